"""``contactcenter ivr check``: validate the IVR trees before the server loads them.

Checks every tree of a directory together (sub-trees, entries per channel) against the
queue ids of the routing configuration, prints each problem with its file, node and fix,
and exits 2 if there is any, so it fits in a deployment pipeline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr import IvrConfigError, build_catalog, read_sources
from ivr.outline import outline_catalog
from routing.policy import ConfigError, parse_routing_config

EXIT_INVALID = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "ivr",
        help="IVR tree tools (check)",
        description="Tools for the IVR menu trees under config/ivr/.",
    )
    sub = parser.add_subparsers(dest="ivr_command", metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check",
        help="validate the IVR trees of a directory against the routing config's queues",
        description=(
            "Validate every *.yaml tree of DIR together: node targets, unreachable nodes, "
            "loops without input, prompts, timezones, patterns, sub-trees, one entry tree "
            "per channel, and that every queue named exists in the routing config."
        ),
    )
    check.add_argument("directory", nargs="?", default="config/ivr", help="default config/ivr")
    check.add_argument(
        "--routing",
        default=None,
        metavar="FILE",
        help="routing config with the queue ids (default: routing.yaml next to DIR)",
    )
    check.add_argument("--outline", action="store_true", help="print each tree's outline")
    check.set_defaults(func=run_check)

    def show_help(_args: argparse.Namespace) -> int:
        # ``contactcenter ivr`` without a subcommand: say what there is, and fail.
        parser.print_help()
        return EXIT_INVALID

    parser.set_defaults(func=show_help)


def run_check(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if not directory.is_dir():
        print(f"contactcenter ivr check: {directory} is not a directory", file=sys.stderr)
        return EXIT_INVALID
    routing_path = Path(args.routing) if args.routing else directory.parent / "routing.yaml"
    try:
        config = parse_routing_config(routing_path.read_text(), str(routing_path))
    except OSError as exc:
        print(
            f"contactcenter ivr check: cannot read the routing config {routing_path}: "
            f"{exc.strerror or exc}; give it with --routing FILE",
            file=sys.stderr,
        )
        return EXIT_INVALID
    except ConfigError as exc:
        print(f"contactcenter ivr check: {exc}", file=sys.stderr)
        return EXIT_INVALID
    sources = read_sources(directory)
    if not sources:
        print(f"contactcenter ivr check: no *.yaml trees in {directory}", file=sys.stderr)
        return EXIT_INVALID
    try:
        catalog = build_catalog(sources, [q.id for q in config.queues])
    except IvrConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing would be loaded", file=sys.stderr)
        return EXIT_INVALID
    entries = ", ".join(f"{ch} -> {tree}" for ch, tree in sorted(catalog.entries.items()))
    print(f"{len(catalog.trees)} tree(s) OK in {directory}; entry trees: {entries or 'none'}")
    if args.outline:
        print(outline_catalog(catalog))
    return 0
