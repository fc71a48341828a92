"""Configuration models: what a valid routing configuration is, and what errors say."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from routing import AgentProfile, Channel, ContactSpec, QueueConfig, RoutingConfig, RoutingStep
from routing.model import (
    DEFAULT_REASON_CODES,
    TERMINAL_STATES,
    ContactState,
    MaxWait,
    WrapUpPolicy,
)


def _error(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_defaults() -> None:
    q = QueueConfig(id="q")
    assert q.channel is Channel.VOICE
    assert (q.service_level.threshold_s, q.service_level.target) == (20.0, 0.8)
    assert q.wrap_up == WrapUpPolicy(mode="timed", seconds=15.0)
    assert q.missed_offer_not_responding is True
    a = AgentProfile(id="a")
    assert a.capacity == {Channel.VOICE: 1}
    cfg = RoutingConfig()
    assert (cfg.strategy, cfg.selector) == ("longest_idle", "fcfs")
    assert cfg.reason_codes == DEFAULT_REASON_CODES
    assert {ContactState.ENDED, ContactState.ABANDONED, ContactState.FLOWED_OUT} == TERMINAL_STATES


@pytest.mark.parametrize("level", [0, 11, -1])
def test_proficiency_is_one_to_ten(level: int) -> None:
    assert "use a whole number 1-10" in _error(QueueConfig, id="q", skills={"s": level})
    assert "use a whole number 1-10" in _error(AgentProfile, id="a", skills={"s": level})
    assert "1-10" in _error(RoutingStep, name="x", skills={"s": level})


def test_voice_is_exclusive_and_capacity_bounded() -> None:
    assert "voice is exclusive" in _error(AgentProfile, id="a", capacity={Channel.VOICE: 2})
    assert "use 0-50" in _error(AgentProfile, id="a", capacity={Channel.CHAT: 51})
    assert AgentProfile(id="a", capacity={Channel.CHAT: 50}).capacity == {Channel.CHAT: 50}


def test_overflow_needs_a_known_target_queue() -> None:
    assert "needs max_wait.target" in _error(MaxWait, seconds=10, action="overflow")
    q = QueueConfig(id="q", max_wait=MaxWait(seconds=10, action="overflow", target="nope"))
    assert "is not a queue id" in _error(RoutingConfig, queues=(q,))


def test_fallback_queue_must_exist() -> None:
    steps = (RoutingStep(name="s", fallback_queues=("ghost",)),)
    message = _error(RoutingConfig, queues=(QueueConfig(id="q", steps=steps),))
    assert "'ghost' does not exist" in message and "step 's'" in message


def test_queue_ids_are_unique_and_reason_codes_not_reserved() -> None:
    assert "repeated: ['q']" in _error(
        RoutingConfig, queues=(QueueConfig(id="q"), QueueConfig(id="q"))
    )
    assert "reserved" in _error(RoutingConfig, reason_codes=("break", "available"))
    assert "reserved" in _error(RoutingConfig, reason_codes=("offline",))


def test_models_are_strict_and_frozen() -> None:
    assert "extra" in _error(QueueConfig, id="q", colour="red").lower()
    q = QueueConfig(id="q")
    with pytest.raises(ValidationError):
        q.priority = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        QueueConfig(id="q", offer_timeout_s=0)
    with pytest.raises(ValidationError):
        RoutingStep(name="s", min_proficiency_delta=1)
    with pytest.raises(ValidationError):
        RoutingConfig(strategy="random")  # type: ignore[arg-type]


def test_contact_spec() -> None:
    spec = ContactSpec(id="c", queue_id="q")
    assert (spec.channel, spec.priority, spec.skills, spec.data) == (None, None, {}, {})
    assert ContactSpec(id="c", queue_id="q", channel="chat").channel is Channel.CHAT
    with pytest.raises(ValidationError):
        ContactSpec(id="c", queue_id="q", channel="fax")  # type: ignore[arg-type]


def test_config_round_trips_through_plain_data() -> None:
    cfg = RoutingConfig(
        queues=(
            QueueConfig(
                id="q",
                skills={"s": 3},
                steps=(RoutingStep(name="a", timeout_s=5), RoutingStep(name="b")),
                max_wait=MaxWait(seconds=60, target="voicemail"),
            ),
        ),
        strategy="blend",
    )
    assert RoutingConfig.model_validate(cfg.model_dump()) == cfg
    assert RoutingConfig.model_validate_json(cfg.model_dump_json()) == cfg
