"""Settings from the environment: defaults, parsing, error messages, the token secret."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from contactcenter.settings import Settings, SettingsError, load_settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None and settings.embedded_database
    assert settings.redis_url is None
    assert settings.data_dir == Path("var")
    assert settings.pg_data_dir == Path("var/pgdata")
    assert settings.config_dir == Path("config")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.token_secret is None
    assert settings.token_ttl_s == 8 * 3600
    assert settings.log_level == "INFO"


def test_values_from_the_environment(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://cc:pw@db:5432/cc",
        "REDIS_URL": "redis://cache:6379/1",
        "CC_DATA_DIR": str(tmp_path),
        "CC_HOST": "0.0.0.0",
        "CC_PORT": " 9000 ",
        "CC_CONFIG_DIR": "/etc/cc",
        "CC_TOKEN_SECRET": "x" * 40,
        "CC_TOKEN_TTL_S": "600",
        "CC_LOG_LEVEL": "debug",
        "CC_UNRELATED": "ignored",
    }
    settings = Settings.from_env(env)
    assert settings.database_url == "postgresql://cc:pw@db:5432/cc"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.data_dir == tmp_path
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.config_dir == Path("/etc/cc")
    assert settings.token_secret_bytes() == b"x" * 40
    assert "xxxx" not in repr(settings)  # the secret stays out of logs
    assert settings.token_ttl_s == 600
    assert settings.log_level == "DEBUG"


def test_empty_values_count_as_unset() -> None:
    settings = Settings.from_env({"DATABASE_URL": "", "CC_PORT": "  "})
    assert settings.database_url is None and settings.port == 8080


@pytest.mark.parametrize(
    ("env", "variable", "fix"),
    [
        ({"CC_PORT": "http"}, "CC_PORT", "TCP port number"),
        ({"CC_PORT": "70000"}, "CC_PORT", "TCP port number"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL", "unset DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL", "redis://"),
        ({"CC_TOKEN_TTL_S": "0"}, "CC_TOKEN_TTL_S", "greater than 0"),
        ({"CC_LOG_LEVEL": "loud"}, "CC_LOG_LEVEL", "DEBUG, INFO"),
        ({"CC_HOST": "a b"}, "CC_HOST", "interface address"),
    ],
)
def test_bad_values_name_the_variable_and_the_fix(
    env: dict[str, str], variable: str, fix: str
) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    message = str(info.value)
    assert message.startswith(f"{variable}=")
    assert "Fix:" in message and fix in message


def test_short_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"CC_TOKEN_SECRET": "hunter2"})
    assert "CC_TOKEN_SECRET" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_several_errors_are_reported_together() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"CC_PORT": "x", "CC_LOG_LEVEL": "y"})
    assert "CC_PORT" in str(info.value) and "CC_LOG_LEVEL" in str(info.value)


def test_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    env = {"CC_DATA_DIR": str(tmp_path / "var")}
    first = load_settings(env)
    secret_file = tmp_path / "var" / "token_secret"
    assert secret_file.exists()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(first.token_secret_bytes()) >= 32
    assert load_settings(env).token_secret_bytes() == first.token_secret_bytes()
    assert [p.name for p in (tmp_path / "var").iterdir()] == ["token_secret"]  # no temp left
    # an explicit secret wins and nothing is read
    explicit = load_settings(env | {"CC_TOKEN_SECRET": "y" * 32})
    assert explicit.token_secret_bytes() == b"y" * 32


def test_corrupt_secret_file(tmp_path: Path) -> None:
    (tmp_path / "token_secret").write_text("short\n")
    with pytest.raises(SettingsError, match="delete the file"):
        load_settings({"CC_DATA_DIR": str(tmp_path)})


def test_unwritable_data_dir(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "file"
        blocker.write_text("")
        data_dir = blocker / "var"  # a path under a regular file can never be created
    else:
        tmp_path.chmod(0o500)
        data_dir = tmp_path / "var"
    with pytest.raises(SettingsError, match="CC_DATA_DIR"):
        load_settings({"CC_DATA_DIR": str(data_dir)})


def test_settings_without_a_secret_say_how_to_get_one() -> None:
    with pytest.raises(SettingsError, match="load_settings"):
        Settings.from_env({}).token_secret_bytes()
