"""Password hashing, signed tokens, role checks."""

from __future__ import annotations

import base64
import json

import pytest

from contactcenter.auth import (
    RoleError,
    ScryptParams,
    TokenBadSignature,
    TokenClaims,
    TokenError,
    TokenExpired,
    TokenMalformed,
    TokenMissing,
    hash_password,
    issue_token,
    needs_rehash,
    require_role,
    verify_password,
    verify_token,
)

pytestmark = pytest.mark.full_password_cost

SECRET = b"k" * 32
OTHER = b"o" * 32
FAST = ScryptParams(n=2**10)  # enough to test the format, cheap to compute
NOW = 1_700_000_000


def test_hash_and_verify() -> None:
    encoded = hash_password("correct horse")
    assert encoded.startswith("scrypt$n=32768,r=8,p=1$")
    assert "correct horse" not in encoded
    assert verify_password("correct horse", encoded)
    assert not verify_password("correct horsE", encoded)
    assert not verify_password("", encoded)
    # random salt: the same password never gives the same hash
    assert hash_password("correct horse", FAST) != hash_password("correct horse", FAST)


def test_parameters_travel_with_the_hash() -> None:
    old = hash_password("pw", FAST)
    assert verify_password("pw", old)  # checked with its own parameters
    assert needs_rehash(old)
    assert not needs_rehash(hash_password("pw"))
    assert needs_rehash("garbage")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "scrypt$n=1024,r=8,p=1$$",
        "bcrypt$x$y$z",
        "scrypt$n=1000,r=8,p=1$YQ$" + "A" * 43,
        "scrypt$n=4194304,r=8,p=1$YWJj$" + "A" * 43,
        "scrypt$n=1024$YWJj$" + "A" * 43,
    ],
)
def test_unreadable_hash_never_matches(stored: str) -> None:
    assert not verify_password("pw", stored)


def test_password_bounds() -> None:
    with pytest.raises(ValueError):
        hash_password("")
    with pytest.raises(ValueError):
        hash_password("x" * 1025)
    assert not verify_password("x" * 5000, hash_password("pw", FAST))


def test_token_round_trip() -> None:
    token = issue_token(SECRET, user_id="alice", role="agent", ttl_s=3600, now=NOW)
    claims = verify_token(SECRET, token, now=NOW + 10)
    assert claims == TokenClaims(
        user_id="alice", role="agent", issued_at=NOW, expires_at=NOW + 3600
    )
    assert "=" not in token and "+" not in token and "/" not in token  # url-safe


def test_expired_token() -> None:
    token = issue_token(SECRET, user_id="alice", role="agent", ttl_s=60, now=NOW)
    verify_token(SECRET, token, now=NOW + 59.9)
    with pytest.raises(TokenExpired) as info:
        verify_token(SECRET, token, now=NOW + 60)
    assert info.value.reason == "expired"


def _tamper(token: str, **changes: object) -> str:
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    new_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{new_body}.{sig}"


def test_tampered_tokens_are_rejected() -> None:
    token = issue_token(SECRET, user_id="alice", role="agent", ttl_s=60, now=NOW)
    with pytest.raises(TokenBadSignature):
        verify_token(SECRET, _tamper(token, role="admin"), now=NOW)
    with pytest.raises(TokenBadSignature):
        verify_token(SECRET, _tamper(token, exp=NOW + 10**9), now=NOW)
    with pytest.raises(TokenBadSignature):
        verify_token(OTHER, token, now=NOW)
    body, sig = token.split(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    with pytest.raises(TokenBadSignature):
        verify_token(SECRET, f"{body}.{flipped}", now=NOW)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (None, TokenMissing),
        ("", TokenMissing),
        ("abc", TokenMalformed),
        ("a.b.c", TokenMalformed),
        ("a.!!", TokenMalformed),
        ("é.x", TokenMalformed),
        ("x" * 5000 + ".y", TokenMalformed),
    ],
)
def test_missing_and_malformed(token: str | None, error: type[TokenError]) -> None:
    with pytest.raises(error):
        verify_token(SECRET, token, now=NOW)


def test_validly_signed_but_invalid_payload() -> None:
    # a token signed with the right key but an unknown role is still refused
    import hashlib
    import hmac

    body = (
        base64.urlsafe_b64encode(
            json.dumps({"v": 1, "sub": "x", "role": "root", "iat": NOW, "exp": NOW + 60}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    sig = (
        base64.urlsafe_b64encode(hmac.new(SECRET, body.encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(TokenMalformed):
        verify_token(SECRET, f"{body}.{sig}", now=NOW)


def test_issue_checks_its_inputs() -> None:
    with pytest.raises(ValueError):
        issue_token(SECRET, user_id="a", role="root", ttl_s=60)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        issue_token(SECRET, user_id="a", role="agent", ttl_s=0)
    with pytest.raises(ValueError):
        issue_token(b"short", user_id="a", role="agent", ttl_s=60)


def test_require_role() -> None:
    claims = verify_token(
        SECRET, issue_token(SECRET, user_id="sam", role="supervisor", ttl_s=60, now=NOW), now=NOW
    )
    require_role(claims, {"supervisor", "admin"})
    with pytest.raises(RoleError) as info:
        require_role(claims, {"admin"})
    assert info.value.role == "supervisor"
    assert "admin" in str(info.value)
    with pytest.raises(ValueError, match="unknown roles"):
        require_role(claims, {"admn"})
