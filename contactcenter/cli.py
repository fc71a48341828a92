"""The `contactcenter` console command.

Each subcommand lives in the module that owns its subject and exposes
``register(subparsers)``; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

# module path -> it must define register(subparsers) that sets `func` on its parser
COMMAND_MODULES: tuple[str, ...] = (
    "contactcenter.store.migrate_cli",
    "contactcenter.server",
    "contactcenter.demo",
    "contactcenter.carrier",
    "contactcenter.gateway_auth",
    "contactcenter.campaigns.cli",
    "contactcenter.export.cli",
    "contactcenter.ivr_check",
    "simulations.cli_staff",
    "simulations.cli_simulate",
    "simulations.loadtest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contactcenter",
        description="Contact-centre operations server: ACD, IVR, dialer, CTI, simulations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    result = args.func(args)
    return int(result or 0)
