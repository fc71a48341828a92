"""Password hashing, signed access tokens and role checks.

No web-framework code: the HTTP and websocket layers call these and map the typed errors
to 401 (``TokenError``) and 403 (``RoleError``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal, get_args

Role = Literal["agent", "supervisor", "admin"]
ROLES: frozenset[str] = frozenset(get_args(Role))
WALLBOARD: Final = "wallboard"
"""A token kind, not a user role: a long-lived read-only token for a wallboard screen,
issued by an admin (contactcenter/supervisor.py); no user has this role."""
TokenRole = Literal["agent", "supervisor", "admin", "wallboard"]
TOKEN_ROLES: frozenset[str] = frozenset(get_args(TokenRole))

# --- passwords ---------------------------------------------------------------------------

# scrypt cost; stored with every hash, so raising it later only affects new hashes and
# needs_rehash() tells the login code when to upgrade an old one.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_PASSWORD_LENGTH = 1024
_SCHEME = "scrypt"


@dataclass(frozen=True, slots=True)
class ScryptParams:
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    def maxmem(self) -> int:
        # scrypt needs 128 * n * r bytes (plus a little); hashlib's default cap is too low
        return 128 * self.n * self.r * self.p + 2**20


def hash_password(password: str, params: ScryptParams | None = None) -> str:
    """``scrypt$n=32768,r=8,p=1$<salt>$<key>`` with a fresh random salt (base64url)."""
    params = params or ScryptParams()
    _check_password(password)
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, params, KEY_BYTES)
    return f"{_SCHEME}$n={params.n},r={params.r},p={params.p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches; False for a mismatch or an unreadable stored hash."""
    parsed = _parse_hash(encoded)
    if parsed is None or not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        return False
    params, salt, key = parsed
    candidate = _scrypt(password, salt, params, len(key))
    return hmac.compare_digest(candidate, key)


def needs_rehash(encoded: str, params: ScryptParams | None = None) -> bool:
    """True when the stored hash was made with other parameters than the current ones."""
    parsed = _parse_hash(encoded)
    return parsed is None or parsed[0] != (params or ScryptParams())


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password is longer than {MAX_PASSWORD_LENGTH} characters")


def _scrypt(password: str, salt: bytes, params: ScryptParams, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem(),
        dklen=dklen,
    )


def _parse_hash(encoded: str) -> tuple[ScryptParams, bytes, bytes] | None:
    try:
        scheme, param_text, salt_text, key_text = encoded.split("$")
        if scheme != _SCHEME:
            return None
        fields = dict(item.split("=", 1) for item in param_text.split(","))
        params = ScryptParams(n=int(fields["n"]), r=int(fields["r"]), p=int(fields["p"]))
        salt, key = _unb64(salt_text), _unb64(key_text)
    except (AttributeError, ValueError, KeyError, binascii.Error):
        return None
    # bounds keep a corrupted row from asking scrypt for gigabytes
    if not (
        2 <= params.n <= 2**20
        and params.n & (params.n - 1) == 0
        and 1 <= params.r <= 32
        and 1 <= params.p <= 16
        and salt
        and 16 <= len(key) <= 64
    ):
        return None
    return params, salt, key


# --- tokens ------------------------------------------------------------------------------

TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 4096


class TokenError(Exception):
    """The request is not authenticated (HTTP 401). ``reason`` is a stable short code."""

    reason = "invalid"


class TokenMissing(TokenError):
    reason = "missing"


class TokenMalformed(TokenError):
    reason = "malformed"


class TokenBadSignature(TokenError):
    reason = "bad_signature"


class TokenExpired(TokenError):
    reason = "expired"


class TokenRevoked(TokenError):
    """The token's session was ended (logout, an administrator, the user disabled or its
    password changed) or is unknown to this server."""

    reason = "revoked"


class RoleError(Exception):
    """Authenticated, but the role may not do this (HTTP 403)."""

    def __init__(self, role: str, allowed: Collection[str]) -> None:
        self.role = role
        self.allowed = frozenset(allowed)
        super().__init__(f"role {role!r} may not do this; needs one of {sorted(self.allowed)}")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    role: TokenRole
    issued_at: int
    expires_at: int
    session_id: str | None = None
    """The stored session the token belongs to (``sid``); None for a session-less token
    minted with the secret by a tool (contactcenter/sessions.py says what those may do)."""


def issue_token(
    secret: bytes,
    *,
    user_id: str,
    role: TokenRole,
    ttl_s: int,
    now: float | None = None,
    session_id: str | None = None,
) -> str:
    """``<payload>.<signature>``, both base64url; the payload is JSON with sub, role, iat,
    exp and, for a token of a stored session, sid."""
    _check_secret(secret)
    if role not in TOKEN_ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {sorted(TOKEN_ROLES)}")
    if not user_id:
        raise ValueError("user_id must be non-empty")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    issued = int(time.time() if now is None else now)
    payload = {
        "v": TOKEN_VERSION,
        "sub": user_id,
        "role": role,
        "iat": issued,
        "exp": issued + int(ttl_s),
    }
    if session_id is not None:
        payload["sid"] = session_id
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(_sign(secret, body))}"


def verify_token(secret: bytes, token: str | None, *, now: float | None = None) -> TokenClaims:
    """The claims of a valid token; raises a ``TokenError`` subclass saying what is wrong."""
    _check_secret(secret)
    if not token:
        raise TokenMissing("no access token; log in to get one")
    if (
        not isinstance(token, str)
        or len(token) > MAX_TOKEN_LENGTH
        or not token.isascii()
        or token.count(".") != 1
    ):
        raise TokenMalformed("access token is not in the expected format")
    body, sig_text = token.split(".")
    try:
        signature = _unb64(sig_text)
    except (ValueError, binascii.Error):
        raise TokenMalformed("access token signature is not base64url") from None
    # check the signature before looking inside, so forged payloads are never parsed
    if not hmac.compare_digest(signature, _sign(secret, body)):
        raise TokenBadSignature("access token signature does not match")
    try:
        payload = json.loads(_unb64(body))
        claims = TokenClaims(
            user_id=payload["sub"],
            role=payload["role"],
            issued_at=payload["iat"],
            expires_at=payload["exp"],
            session_id=payload.get("sid"),
        )
        valid = (
            payload.get("v") == TOKEN_VERSION
            and isinstance(claims.user_id, str)
            and claims.role in TOKEN_ROLES
            and isinstance(claims.expires_at, int)
            and isinstance(claims.issued_at, int)
            and (claims.session_id is None or isinstance(claims.session_id, str))
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        valid = False
    if not valid:
        raise TokenMalformed("access token payload is not valid")
    current = time.time() if now is None else now
    if current >= claims.expires_at:
        raise TokenExpired("access token has expired; log in again")
    return claims


def require_role(claims: TokenClaims, allowed: Collection[str]) -> None:
    """Raise ``RoleError`` unless the token's role is one of ``allowed``."""
    unknown = set(allowed) - TOKEN_ROLES
    if unknown:
        # a typo here would silently lock everyone out of an endpoint
        raise ValueError(f"unknown roles {sorted(unknown)}; use {sorted(TOKEN_ROLES)}")
    if claims.role not in allowed:
        raise RoleError(claims.role, allowed)


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < 32:
        raise ValueError("token secret must be at least 32 bytes")


def _sign(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
