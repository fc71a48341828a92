"""``config/ui.yaml``: what only the pages need (links, canned replies, the wallboard's
cadence and the tiles' thresholds). One model and one reader, used by the server at start
and by whatever validates the file."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Threshold(BaseModel):
    """When a figure turns a tile amber and red. For ``service_level`` lower is worse
    (amber >= red); for the others higher is worse (amber <= red)."""

    model_config = ConfigDict(extra="forbid")

    amber: float | None = None
    red: float | None = None


class QueueThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    waiting: Threshold = Threshold(amber=5, red=10)
    longest_wait_s: Threshold = Threshold(amber=60, red=120)
    service_level: Threshold = Threshold(amber=0.8, red=0.7)
    abandon_rate: Threshold = Threshold(amber=0.05, red=0.10)

    @model_validator(mode="after")
    def _ordered(self) -> QueueThresholds:
        for name in ("waiting", "longest_wait_s", "abandon_rate"):
            t: Threshold = getattr(self, name)
            if t.amber is not None and t.red is not None and t.amber > t.red:
                raise ValueError(f"{name}: amber ({t.amber}) must not exceed red ({t.red})")
        sl = self.service_level
        if sl.amber is not None and sl.red is not None and sl.amber < sl.red:
            raise ValueError("service_level: amber must be at least red (lower is worse)")
        return self


class WallboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_s: float = Field(1.0, ge=0.1, le=60)
    """At most one update per this many seconds per supervisor (coalesced)."""
    min_period_s: float = Field(0.25, ge=0.05, le=60)
    """The fastest a client may ask for (``/ws/supervisor?period=``)."""
    long_contact_s: float = Field(600.0, gt=0)
    """Contacts longer than this are highlighted in the agents grid."""
    wallboard_token_max_days: int = Field(365, ge=1, le=3650)


class UiSettings(BaseModel):
    """``config/ui.yaml`` (optional; every key has a default)."""

    model_config = ConfigDict(extra="forbid")

    crm_url_template: str | None = None
    """A link to the caller's record in an external CRM, e.g.
    ``https://crm.example.com/customers/{customer_id}``. Placeholders: customer_id,
    account_number, ani, contact_id, queue (URL-encoded when filled in by the page)."""
    canned_replies: list[str] = Field(default_factory=list, max_length=100)
    """Ready-made chat replies the console offers (inserted into the message box)."""
    wallboard: WallboardSettings = WallboardSettings()
    thresholds: QueueThresholds = QueueThresholds()
    """The default for every queue."""
    queue_thresholds: dict[str, QueueThresholds] = {}
    """Per queue id, replacing the default for that queue."""

    def thresholds_for(self, queue_id: str) -> QueueThresholds:
        return self.queue_thresholds.get(queue_id, self.thresholds)


def load_ui_settings(config_dir: Path) -> UiSettings:
    path = config_dir / "ui.yaml"
    if not path.exists():
        return UiSettings()
    data = yaml.safe_load(path.read_text()) or {}
    try:
        return UiSettings.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
