"""``config/gateway.yaml``: which dialled numbers go straight to a queue (``dnis``), which run
an IVR tree first (``ivr``), and the hashes of gateway keys (``keys``). One model and one
reader: the server reads it at start and ``POST /api/ivr/reload`` again, both through
``load_gateway_config``; errors name the file, the key and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


def _numbers(value: Any) -> Any:
    # YAML reads an unquoted number as int; the map is keyed by the dialled text.
    if isinstance(value, dict):
        return {str(k): str(v) if isinstance(v, int | float) else v for k, v in value.items()}
    return value


class IvrSettings(BaseModel):
    """The ``ivr:`` section."""

    model_config = ConfigDict(extra="forbid")

    dnis: dict[str, str] = Field(default_factory=dict)
    """Dialled number -> id of the tree a call to it runs (other numbers queue directly)."""
    survey_tree: str | None = None
    """The tree run after the agent ends a contact (None: no survey)."""
    survey_queues: list[str] | None = None
    """Queues whose contacts get the survey (None: every queue)."""
    lookup_timeout_s: float = Field(3.0, gt=0, le=60)

    _keys = field_validator("dnis", mode="before")(_numbers)


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dnis: dict[str, str] = Field(default_factory=dict)
    """Dialled number -> queue id, for calls that go straight to a queue."""
    ivr: IvrSettings = Field(default_factory=IvrSettings)
    keys: dict[str, str] = Field(default_factory=dict)
    """Gateway id -> ``sha256:<hex>`` of its key (gateway_auth.py); besides the key store
    that ``contactcenter gateway-key`` manages in the data directory."""

    _keys = field_validator("dnis", mode="before")(_numbers)


class GatewayConfigError(ValueError):
    """gateway.yaml cannot be used; the message names the file, the key and the reason."""


def load_gateway_config(config_dir: Path) -> GatewayConfig:
    """``config_dir/gateway.yaml``, or the defaults (no numbers) when there is none."""
    path = config_dir / "gateway.yaml"
    if not path.exists():
        return GatewayConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GatewayConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise GatewayConfigError(f"{path}: expected a mapping with 'dnis', 'ivr' and/or 'keys'")
    try:
        return GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise GatewayConfigError(f"{path}: {problems}") from None
