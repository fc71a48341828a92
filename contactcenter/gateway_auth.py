"""The telephony gateway's own credential: one secret key per gateway (docs/gateway.md,
"Authentication").

A key is ``<gateway id>.<secret>`` (the secret is 43 random base64url characters). The
server keeps only ``sha256:<hex>`` of the whole key and compares it in constant time;
user tokens (admins' included) are not gateway credentials. Keys come from two places:

- ``config/gateway.yaml``, ``keys: {pbx-east: "sha256:..."}``: hashes an operator deploys;
- the key store ``<data dir>/gateway_keys.json``, written by ``contactcenter gateway-key
  create|rotate|revoke NAME`` (which prints the key once) and re-read by a running server
  when it changes, so a new or rotated key works without a restart.

When neither holds a key, the first start creates the key of gateway ``local`` and writes
it to ``<data dir>/gateway_secret`` (mode 0600), where the simulated carrier on the same
machine reads it: ``./scripts/serve.sh`` and ``contactcenter carrier`` work with no setup.
Keys are never logged; only the gateway id and the file they are in.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

KEY_STORE_FILE: Final = "gateway_keys.json"
LOCAL_KEY_FILE: Final = "gateway_secret"
LOCAL_GATEWAY: Final = "local"
GATEWAY_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_GATEWAY_ID = re.compile(GATEWAY_ID)
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
SECRET_BYTES = 32
MAX_KEY_LENGTH = 128
KEY_HEADER: Final = "Authorization"
"""The key travels as ``Authorization: Bearer <key>``, never in the URL."""


class GatewayKeyError(ValueError):
    """A key file or a gateway id cannot be used; the message names the file and the fix."""


def check_gateway_id(gateway_id: str) -> str:
    if not _GATEWAY_ID.match(gateway_id):
        raise GatewayKeyError(
            f"gateway id {gateway_id!r} is not valid: use 1-32 characters of a-z, 0-9, _ "
            "and -, starting with a letter or digit"
        )
    return gateway_id


def check_hash(value: str, where: str) -> str:
    if not isinstance(value, str) or not _HASH.match(value):
        raise GatewayKeyError(
            f"{where}: {value!r} is not a key hash; write sha256:<64 hex digits> "
            "(`contactcenter gateway-key hash` prints it for a key)"
        )
    return value


def new_key(gateway_id: str) -> str:
    """A fresh key for the gateway: ``<id>.<secret>``."""
    return f"{check_gateway_id(gateway_id)}.{secrets.token_urlsafe(SECRET_BYTES)}"


def key_hash(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def gateway_of(key: str) -> str | None:
    """The gateway id a key names, or None for something that is not a key."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii():
        return None
    gateway_id, dot, secret = key.partition(".")
    if not dot or not secret or not _GATEWAY_ID.match(gateway_id):
        return None
    return gateway_id


def bearer_key(authorization: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header value."""
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def mask(key: str) -> str:
    """What a log line or a listing may show of a key: its gateway id only."""
    return f"{gateway_of(key) or '?'}.***"


# --- the key store -----------------------------------------------------------------------


def read_store(path: Path) -> dict[str, str]:
    """Gateway id -> key hash from the key store file; empty when there is none."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GatewayKeyError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw)
        keys = data["keys"]
        if not isinstance(keys, dict):
            raise TypeError("keys is not an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise GatewayKeyError(
            f"{path}: not a gateway key store ({exc}); fix or delete it and create the "
            "keys again with `contactcenter gateway-key create NAME`"
        ) from None
    out: dict[str, str] = {}
    for name, value in keys.items():
        check_gateway_id(str(name))
        out[str(name)] = check_hash(value, f"{path}: keys.{name}")
    return out


def write_store(path: Path, keys: Mapping[str, str]) -> None:
    """Replace the key store atomically (written beside it, then renamed), mode 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": dict(sorted(keys.items()))}, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write_new_file(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) holding ``text`` unless it exists; True if created.
    Linked into place, so two processes starting at once agree on one file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)


def ensure_local_key(data_dir: Path, configured: Mapping[str, str] | None = None) -> Path | None:
    """With no key configured (gateway.yaml ``keys``) and none in the key store: create
    the key of gateway ``local`` in ``data_dir/gateway_secret`` and store its hash. The
    file's path when the local key is in use, None otherwise. Idempotent."""
    store_path = data_dir / KEY_STORE_FILE
    secret_path = data_dir / LOCAL_KEY_FILE
    if configured:
        return None
    stored = read_store(store_path)
    if LOCAL_GATEWAY in stored:
        # in use if the file still holds the stored key (the CLI keeps them together)
        with contextlib.suppress(OSError):
            if key_hash(secret_path.read_text().strip()) == stored[LOCAL_GATEWAY]:
                return secret_path
        return None
    if stored:
        return None
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if _write_new_file(secret_path, new_key(LOCAL_GATEWAY)):
            log.info(
                "created the key of gateway %r in %s (the simulated carrier reads it there)",
                LOCAL_GATEWAY,
                secret_path,
            )
        key = secret_path.read_text().strip()
    except OSError as exc:
        raise GatewayKeyError(
            f"cannot write the gateway key to {secret_path} ({exc.strerror}); make the data "
            "directory writable or create a key with `contactcenter gateway-key create NAME`"
        ) from None
    if gateway_of(key) != LOCAL_GATEWAY:
        raise GatewayKeyError(
            f"{secret_path} does not hold a key of gateway {LOCAL_GATEWAY!r}; delete it to have "
            "a new one created"
        )
    write_store(store_path, {LOCAL_GATEWAY: key_hash(key)})
    return secret_path


def read_key_file(path: Path) -> str:
    """A key from a file (the carrier's ``--gateway-key-file``)."""
    try:
        key = path.read_text().strip()
    except OSError as exc:
        raise GatewayKeyError(
            f"cannot read the gateway key from {path} ({exc.strerror}); start the server once "
            "(it creates it), or give CC_GATEWAY_KEY or --gateway-key-file"
        ) from None
    if gateway_of(key) is None:
        raise GatewayKeyError(f"{path} does not hold a gateway key (<gateway id>.<secret>)")
    return key


# --- checking ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GatewayIdentity:
    gateway_id: str


class GatewayKeyring:
    """The keys the server accepts: gateway.yaml's and the key store's (re-read when the
    file changes). ``verify`` is what the gateway endpoints call."""

    def __init__(self, configured: Mapping[str, str], store_path: Path) -> None:
        self._configured = {
            check_gateway_id(k): check_hash(v, f"gateway.yaml: keys.{k}")
            for k, v in configured.items()
        }
        self._store_path = store_path
        self._stamp: tuple[int, int] | None = None  # None: no file (read as no keys)
        self._stored: dict[str, str] = {}
        self._reload()

    def _reload(self) -> None:
        try:
            st = self._store_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        try:
            self._stored = read_store(self._store_path)
        except GatewayKeyError as exc:
            # Keep what was read before: a half-edited file must not lock gateways out.
            # Logged once for this version of the file; the next change is read again.
            log.error("gateway keys not reloaded: %s", exc)
        self._stamp = stamp

    def gateways(self) -> list[str]:
        self._reload()
        return sorted({*self._stored, *self._configured})

    def verify(self, key: str | None) -> GatewayIdentity | None:
        """The gateway a key belongs to, or None (no key, unknown gateway, wrong secret)."""
        gateway_id = gateway_of(key or "")
        if key is None or gateway_id is None:
            return None
        self._reload()
        expected = self._configured.get(gateway_id) or self._stored.get(gateway_id)
        # Compared even for an unknown gateway, so the time taken does not tell.
        ok = hmac.compare_digest(key_hash(key), expected or "sha256:" + "0" * 64)
        return GatewayIdentity(gateway_id) if ok and expected is not None else None


# --- the command -------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gateway-key",
        help="create, rotate, revoke or list the telephony gateways' keys",
        description="Manage the keys telephony gateways authenticate with (docs/gateway.md). "
        "Keys are kept as hashes in CC_DATA_DIR/gateway_keys.json; a running server picks "
        "changes up without a restart. A new key is printed once: give it to the gateway.",
    )
    parser.set_defaults(func=lambda args: _usage(parser))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    for name, text in (
        ("create", "create the key of a new gateway and print it"),
        ("rotate", "replace a gateway's key (the old one stops working) and print the new one"),
        ("revoke", "delete a gateway's key (it can no longer connect)"),
    ):
        sub = actions.add_parser(name, help=text, description=text)
        sub.add_argument("name", help="the gateway id (a-z, 0-9, _ and -)")
        sub.set_defaults(func=_run)
    listing = actions.add_parser("list", help="the gateways that have a key (no secrets)")
    listing.set_defaults(func=_run)
    hashing = actions.add_parser(
        "hash",
        help="print the hash of a key read from standard input (for gateway.yaml's keys)",
    )
    hashing.set_defaults(func=_run)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _run(args: argparse.Namespace) -> int:
    from contactcenter.settings import Settings, SettingsError

    try:
        data_dir = Settings.from_env().data_dir
        return manage(args.action, getattr(args, "name", None), data_dir)
    except (SettingsError, GatewayKeyError) as exc:
        print(f"contactcenter gateway-key: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"contactcenter gateway-key: error: {exc}", file=sys.stderr)
        return 1


def manage(action: str, name: str | None, data_dir: Path) -> int:
    """The ``gateway-key`` actions on ``data_dir``'s key store."""
    store_path = data_dir / KEY_STORE_FILE
    if action == "hash":
        key = sys.stdin.readline().strip()
        if gateway_of(key) is None:
            raise GatewayKeyError("standard input does not hold a key (<gateway id>.<secret>)")
        print(f"{gateway_of(key)}: {key_hash(key)}")
        return 0
    keys = read_store(store_path)
    if action == "list":
        for gateway_id in sorted(keys):
            print(gateway_id)
        return 0
    assert name is not None
    check_gateway_id(name)
    if action == "create" and name in keys:
        raise GatewayKeyError(f"gateway {name!r} has a key already; use `rotate {name}`")
    if action in ("rotate", "revoke") and name not in keys:
        raise GatewayKeyError(f"gateway {name!r} has no key; use `create {name}`")
    local_file = data_dir / LOCAL_KEY_FILE
    if action == "revoke":
        del keys[name]
        write_store(store_path, keys)
        if name == LOCAL_GATEWAY:
            local_file.unlink(missing_ok=True)
        print(f"revoked the key of gateway {name!r}", file=sys.stderr)
        return 0
    key = new_key(name)
    keys[name] = key_hash(key)
    write_store(store_path, keys)
    if name == LOCAL_GATEWAY:
        # the local carrier reads its key from the file: keep it current
        local_file.unlink(missing_ok=True)
        _write_new_file(local_file, key)
    verb = "created" if action == "create" else "rotated"
    print(f"{verb} the key of gateway {name!r}; it is shown once:", file=sys.stderr)
    print(key)
    return 0
