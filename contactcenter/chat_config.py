"""``config/chat.yaml``: what bounds the anonymous chat surface (``/ws/chat``): limits per
client address and in total, the proxies trusted to name the client's address, the
origins allowed to open a chat, and optional widget keys per site. One model and one
reader; the file is optional and every key has a default. Errors name the file, the key
and the reason. See docs/chat.md, "Limits and access"."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ChatLimits(BaseModel):
    """The ``limits:`` section. "Per IP" means per client address (an IPv6 client by its
    ``ipv6_prefix`` network)."""

    model_config = ConfigDict(extra="forbid")

    sockets_per_ip: int = Field(20, ge=1)
    """Open ``/ws/chat`` sockets of one client address; beyond, 429 before the upgrade."""
    sockets_total: int = Field(2500, ge=1)
    """Open ``/ws/chat`` sockets in all; beyond, 429 before the upgrade."""
    chats_total: int = Field(2000, ge=1)
    """Chats in progress at once; beyond, ``start`` is refused (``busy``)."""
    starts_per_ip_per_minute: float = Field(6.0, gt=0)
    starts_per_ip_burst: int = Field(10, ge=1)
    """Chat starts of one address: a burst, then this many a minute (token bucket)."""
    starts_per_minute: float = Field(600.0, gt=0)
    starts_burst: int = Field(100, ge=1)
    """Chat starts of everyone together: a burst, then this many a minute."""
    messages_per_s: float = Field(1.0, gt=0)
    messages_burst: int = Field(5, ge=1)
    """Visitor lines of one chat (across its reconnections): a burst, then per second."""
    frames_per_s: float = Field(2.0, gt=0)
    frames_burst: int = Field(8, ge=1)
    """Frames of any kind on one socket (typing included): a burst, then per second."""
    ipv6_prefix: int = Field(64, ge=32, le=128)
    """An IPv6 client is counted by this network (one host usually holds a /64)."""


class ChatConfig(BaseModel):
    """``config/chat.yaml``."""

    model_config = ConfigDict(extra="forbid")

    limits: ChatLimits = Field(default_factory=ChatLimits)
    allowed_origins: list[str] = Field(default_factory=list)
    """Origins (``https://shop.example.com``) whose pages may open a chat, besides the
    server's own. A request without an Origin header (not a browser) is not refused by
    this; the limits still apply to it."""
    widget_keys: dict[str, str] = Field(default_factory=dict)
    """Site name -> key. When not empty, a chat socket must name a site and its key
    (``/ws/chat?site=NAME&key=KEY``, the widget page passes its own ``?site=&key=``)."""

    @model_validator(mode="before")
    @classmethod
    def _proxies_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "trusted_proxies" in data:
            raise ValueError(
                "trusted_proxies is not a chat setting: the reverse proxies are one server "
                "setting, CC_TRUSTED_PROXIES (docs/security.md), used by every surface"
            )
        return data

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        out = []
        for i, origin in enumerate(value):
            text = str(origin).strip().rstrip("/").lower()
            parts = urlsplit(text)
            if text != "null" and (
                parts.scheme not in ("http", "https") or not parts.netloc or parts.path
            ):
                raise ValueError(
                    f"entry {i} ({origin!r}) is not an origin such as https://shop.example.com"
                )
            out.append(text)
        return out

    @field_validator("widget_keys")
    @classmethod
    def _keys(cls, value: dict[str, str]) -> dict[str, str]:
        for site, key in value.items():
            if not site.strip():
                raise ValueError("a site name is empty")
            if len(str(key)) < 16:
                raise ValueError(f"the key of site {site!r} is shorter than 16 characters")
        return {site: str(key) for site, key in value.items()}


class ChatConfigError(ValueError):
    """chat.yaml cannot be used; the message names the file, the key and the reason."""


def load_chat_config(config_dir: Path) -> ChatConfig:
    """``config_dir/chat.yaml``, or the defaults when there is none."""
    path = config_dir / "chat.yaml"
    if not path.exists():
        return ChatConfig()
    try:
        data: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ChatConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ChatConfigError(f"{path}: expected a mapping (limits, allowed_origins, ...)")
    try:
        return ChatConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ChatConfigError(f"{path}: {problems}") from None
