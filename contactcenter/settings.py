"""Server settings, read from the environment.

Variables: ``DATABASE_URL`` and ``REDIS_URL`` (the names every tool already uses), and the
rest with the ``CC_`` prefix: ``CC_DATA_DIR``, ``CC_HOST``, ``CC_PORT``, ``CC_CONFIG_DIR``,
``CC_TOKEN_SECRET``, ``CC_TOKEN_TTL_S``, ``CC_LOG_LEVEL``, ``CC_LOG_FORMAT``,
``CC_METRICS_PUBLIC``. An empty value counts as unset.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]

TOKEN_SECRET_FILE = "token_secret"
MIN_TOKEN_SECRET_LENGTH = 32

# field name -> environment variable
ENV_NAMES: dict[str, str] = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "data_dir": "CC_DATA_DIR",
    "host": "CC_HOST",
    "port": "CC_PORT",
    "config_dir": "CC_CONFIG_DIR",
    "token_secret": "CC_TOKEN_SECRET",
    "token_ttl_s": "CC_TOKEN_TTL_S",
    "access_token_ttl_s": "CC_ACCESS_TOKEN_TTL_S",
    "ws_auth_timeout_s": "CC_WS_AUTH_TIMEOUT_S",
    "login_max_failures_per_user": "CC_LOGIN_MAX_FAILURES_PER_USER",
    "login_max_failures_per_address": "CC_LOGIN_MAX_FAILURES_PER_ADDRESS",
    "login_failure_window_s": "CC_LOGIN_FAILURE_WINDOW_S",
    "password_hash_workers": "CC_PASSWORD_HASH_WORKERS",
    "password_hash_queue": "CC_PASSWORD_HASH_QUEUE",
    "replay_messages_per_s": "CC_REPLAY_MESSAGES_PER_S",
    "trusted_proxies": "CC_TRUSTED_PROXIES",
    "log_level": "CC_LOG_LEVEL",
    "log_format": "CC_LOG_FORMAT",
    "metrics_public": "CC_METRICS_PUBLIC",
}

# field name -> how to fix a bad value (the error message ends with it)
_FIXES: dict[str, str] = {
    "database_url": "use postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME, or unset DATABASE_URL "
    "to run the embedded PostgreSQL",
    "redis_url": "use redis://HOST[:PORT][/DB] (or rediss:// or unix://), or unset REDIS_URL "
    "to run a single node without Redis",
    "data_dir": "use a directory path the server may write to (default ./var)",
    "host": "use an interface address such as 127.0.0.1 or 0.0.0.0",
    "port": "use a TCP port number from 1 to 65535 (default 8080; 0 picks a free one)",
    "config_dir": "use the path of the configuration directory (default config)",
    "token_secret": f"use at least {MIN_TOKEN_SECRET_LENGTH} random characters, e.g. the output "
    "of `python -c 'import secrets; print(secrets.token_urlsafe(48))'`, or unset "
    "CC_TOKEN_SECRET to have one generated and kept in the data directory",
    "token_ttl_s": "use a whole number of seconds greater than 0: how long a login session "
    "lasts (default 28800, 8 hours)",
    "access_token_ttl_s": "use a whole number of seconds from 30 to 3600 (default 900): how "
    "long one access token lives before the page renews it",
    "ws_auth_timeout_s": "use a number of seconds from 0.5 to 60 (default 5)",
    "login_max_failures_per_user": "use a whole number from 1 to 1000 (default 5)",
    "login_max_failures_per_address": "use a whole number from 1 to 100000 (default 20)",
    "login_failure_window_s": "use a whole number of seconds from 1 to 86400 (default 300)",
    "password_hash_workers": "use a whole number of threads from 1 to 64 (default 2)",
    "password_hash_queue": "use a whole number from 1 to 10000 (default 32)",
    "replay_messages_per_s": "use a whole number from 10 to 100000 (default 500)",
    "trusted_proxies": "use IP addresses or CIDRs separated by commas (the reverse proxies "
    "in front of the server), or leave it empty",
    "log_level": "use one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "log_format": "use text (lines for people) or json (one JSON object per line)",
    "metrics_public": "use true (GET /metrics needs no token) or false (a supervisor's or "
    "admin's bearer token)",
}


class SettingsError(ValueError):
    """A setting has a value the server cannot use; the message names the variable and fix."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str | None = None
    """None: start the embedded PostgreSQL with its data in ``data_dir/pgdata``."""
    data_dir: Path = Path("var")
    redis_url: str | None = None
    """None: single node, in-process event bus."""
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    """0: any free port (tests)."""
    config_dir: Path = Path("config")
    token_secret: SecretStr | None = None
    """None until ``load_settings`` fills it from the data directory."""
    token_ttl_s: int = Field(8 * 3600, gt=0)
    """How long a login session lasts (its refresh token); access tokens are renewed
    within it."""
    access_token_ttl_s: int = Field(900, ge=30, le=3600)
    """How long one access token lives (docs/security-sessions.md)."""
    ws_auth_timeout_s: float = Field(5.0, ge=0.5, le=60)
    """A socket without an ``auth`` frame this long after opening is closed (4401)."""
    login_max_failures_per_user: int = Field(5, ge=1, le=1000)
    login_max_failures_per_address: int = Field(20, ge=1, le=100_000)
    login_failure_window_s: int = Field(300, ge=1, le=86400)
    password_hash_workers: int = Field(2, ge=1, le=64)
    """Threads that run scrypt (a pool of their own)."""
    password_hash_queue: int = Field(32, ge=1, le=10_000)
    """Password checks waiting or running at most; a login beyond them gets 503 busy.
    More than ``login_max_failures_per_address``, so one address alone cannot fill it."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies: a request from one of them is counted
    (login throttle) under the client address its ``X-Forwarded-For`` names."""
    replay_messages_per_s: int = Field(500, ge=10, le=100_000)
    """Messages one console may have replayed per second (``hello``/``resume``), with a
    burst of twice that; beyond it ``replay_throttled``."""
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "text"
    metrics_public: bool = True
    """False: ``GET /metrics`` needs a supervisor's or admin's bearer token."""

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("postgres", "postgresql"):
            raise ValueError("not a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("not a redis:// URL")
        return value

    @field_validator("host")
    @classmethod
    def _check_host(cls, value: str) -> str:
        if not value.strip() or any(c.isspace() for c in value):
            raise ValueError("not a host name or address")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        for item in (v.strip() for v in value.split(",")):
            if item:
                ipaddress.ip_network(item, strict=False)  # ValueError: not an address/CIDR
        return value

    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The reverse proxies whose X-Forwarded-For is believed: the one setting every
        client address (logins, the chat limits) is worked out with (limits.py)."""
        return tuple(
            ipaddress.ip_network(v.strip(), strict=False)
            for v in self.trusted_proxies.split(",")
            if v.strip()
        )

    @field_validator("token_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_SECRET_LENGTH:
            raise ValueError(f"shorter than {MIN_TOKEN_SECRET_LENGTH} characters")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pg_data_dir(self) -> Path:
        """Where the embedded PostgreSQL keeps its cluster."""
        return self.data_dir / "pgdata"

    def token_secret_bytes(self) -> bytes:
        if self.token_secret is None:
            raise SettingsError(
                "no token secret: create settings with load_settings(), which reads "
                "CC_TOKEN_SECRET or the secret kept in the data directory"
            )
        return self.token_secret.get_secret_value().encode()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse and validate the variables; no side effects (the secret may stay None)."""
        env = os.environ if environ is None else environ
        values: dict[str, str] = {}
        for name, var in ENV_NAMES.items():
            raw = env.get(var, "").strip()
            if raw:
                values[name] = raw
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None


def _describe(exc: ValidationError, values: Mapping[str, str]) -> str:
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else ""
        var = ENV_NAMES.get(name, name)
        # never echo a secret back into logs
        shown = "<hidden>" if name == "token_secret" else repr(values.get(name, ""))
        fix = _FIXES.get(name, "check the value")
        lines.append(f"{var}={shown} is not valid ({err['msg']}). Fix: {fix}.")
    return "\n".join(lines)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment, with the token secret filled in.

    Without ``CC_TOKEN_SECRET`` the secret is read from ``data_dir/token_secret``, and
    generated there on first start, so tokens stay valid across restarts and no secret is
    ever part of the code or the example configuration.
    """
    settings = Settings.from_env(environ)
    if settings.token_secret is not None:
        return settings
    secret = read_or_create_token_secret(settings.data_dir)
    return settings.model_copy(update={"token_secret": SecretStr(secret)})


def read_or_create_token_secret(data_dir: Path) -> str:
    path = data_dir / TOKEN_SECRET_FILE
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(
            f"CC_DATA_DIR={str(data_dir)!r} cannot be created ({exc.strerror}). "
            f"Fix: {_FIXES['data_dir']}."
        ) from None
    try:
        # Written under a temporary name and linked into place: link() fails if the file
        # exists, so when two processes start at once exactly one secret wins, and nobody
        # ever reads a half-written file.
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".token_secret.")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise SettingsError(
            f"cannot write the token secret to {path} ({exc.strerror}). Fix: make CC_DATA_DIR "
            "writable, or set CC_TOKEN_SECRET."
        ) from None
    stored = path.read_text().strip()
    if len(stored) < MIN_TOKEN_SECRET_LENGTH:
        raise SettingsError(
            f"the token secret in {path} is shorter than {MIN_TOKEN_SECRET_LENGTH} characters. "
            "Fix: delete the file to have a new one generated (this signs everyone out), "
            "or set CC_TOKEN_SECRET."
        )
    return stored
