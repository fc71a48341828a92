"""Simulation scenarios: what a workforce planner writes in YAML, validated with pydantic.

A scenario names its queues (arrival rates or a per-interval forecast, handle-time and
patience distributions, the routing options passed through to ``routing.model``) and its
agent groups (skills, shifts, breaks, shrinkage). Validation problems are reported as
``ScenarioError``: the file, the key path, what is wrong and how to fix it.

Times: the simulation clock starts at 0 = the scenario's ``start`` time of day. Durations
are written ``8h``, ``30m``, ``90s``, ``1h30m`` or plain seconds; times of day ``HH:MM``.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from routing.model import (
    DEFAULT_REASON_CODES,
    AgentStrategy,
    BlendWeights,
    Channel,
    ContactSelector,
    MaxWait,
    QueueConfig,
    RoutingConfig,
    RoutingStep,
    ServiceLevelTarget,
    WrapUpPolicy,
)
from routing.stats import SLVariant
from simulations.distributions import DIST_NAMES, Distribution
from simulations.forecast_csv import START, ForecastError, read_forecast_rows

DAY_S = 86_400.0


# --------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class Issue:
    path: str
    problem: str
    fix: str


class ScenarioError(Exception):
    """A scenario that cannot run. Not a ValueError on purpose: pydantic lets it through
    unchanged, so semantic checks keep their exact key paths."""

    def __init__(self, issues: list[Issue], source: str | None = None) -> None:
        self.issues = issues
        self.source = source
        super().__init__(self._text())

    def with_source(self, source: str) -> ScenarioError:
        return ScenarioError(self.issues, source)

    def _text(self) -> str:
        where = self.source or "scenario"
        lines = [f"{where}: {len(self.issues)} problem(s)"] if len(self.issues) > 1 else []
        for issue in self.issues:
            lines.append(f"{where}: {issue.path}: {issue.problem}. Fix: {issue.fix}")
        return "\n".join(lines)


# --------------------------------------------------------------------- times

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|hr|hours?|m|min|mins|minutes?|s|sec|seconds?)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_duration(value: Any) -> float:
    """'8h', '30m', '90s', '1h30m', '1.5h' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 8h, 30m, 90s or 1h30m")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not a duration; use a number of seconds >= 0")
        return float(value)
    text = str(value).strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if text[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNIT_S[match.group(2)[0]]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise ValueError(f"{value!r} is not a duration; write e.g. 8h, 30m, 90s or 1h30m")
    return total


def parse_clock(value: str) -> float:
    """'08:30' -> seconds after midnight."""
    match = _CLOCK.match(value.strip())
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 08:30")
    h, m, s = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    return h * 3600.0 + m * 60.0 + s


def format_clock(seconds: float) -> str:
    seconds %= DAY_S
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def _time_point(value: Any) -> str | float:
    """A moment: a time of day 'HH:MM', or an offset from the start ('2h', seconds)."""
    if isinstance(value, str) and ":" in value:
        parse_clock(value)
        return value.strip()
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(parse_duration)]
TimePoint = Annotated[str | float, BeforeValidator(_time_point)]


# --------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForecastInterval(_Strict):
    """One forecast row: arrivals in the interval (count) or a rate per hour, and
    optionally the interval's average handle time (scales the handle-time distribution)."""

    interval_start: TimePoint
    arrivals: float | None = Field(None, ge=0)
    arrival_rate_per_hour: float | None = Field(None, ge=0)
    aht_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_volume(self) -> ForecastInterval:
        if (self.arrivals is None) == (self.arrival_rate_per_hour is None):
            raise ValueError(
                "give exactly one of arrivals (count in the interval) or arrival_rate_per_hour"
            )
        return self


class QueueSpec(_Strict):
    name: str = Field(min_length=1)
    channel: Channel = Channel.VOICE
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] | None = None
    """Required skills with minimum proficiency; default {<name>: 1}."""
    arrival_rate_per_hour: float | None = Field(None, ge=0)
    forecast: list[ForecastInterval] | None = None
    rate_profile: Literal["step", "linear"] = "step"
    """step: the forecast rate holds for the whole interval (piecewise-constant Poisson);
    linear: the rate moves linearly between interval midpoints (generated by thinning)."""
    handle_time: Distribution
    patience: Distribution | None = None
    wrap_up: Distribution | None = None
    service_level: ServiceLevelTarget = ServiceLevelTarget()
    priority: int = 0
    offer_timeout_s: float = Field(15.0, gt=0)
    steps: tuple[RoutingStep, ...] = ()
    max_wait: MaxWait | None = None
    priority_aging_per_min: float = Field(0.0, ge=0)
    cost_of_wait: float = Field(1.0, gt=0)
    starvation_s: float | None = Field(None, gt=0)
    short_abandon_s: float = Field(5.0, ge=0)

    @field_validator("forecast", mode="before")
    @classmethod
    def _forecast_file(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict) and set(value) <= {"file", "queue"} and "file" in value:
            base = Path((info.context or {}).get("base_dir", "."))
            return read_forecast_csv(base / str(value["file"]), value.get("queue"))
        return value

    @property
    def required_skills(self) -> dict[str, int]:
        return dict(self.skills) if self.skills is not None else {self.name: 1}


class Shift(_Strict):
    start: TimePoint
    end: TimePoint


class Break(_Strict):
    start: TimePoint
    duration: Duration
    stagger: Duration = 0.0
    """Spread the group's break starts evenly over this window (not everyone at once)."""
    reason: str = "break"


class AgentGroup(_Strict):
    name: str | None = None
    count: int = Field(ge=0)
    skills: dict[str, Annotated[int, Field(ge=1, le=10)]] = Field(min_length=1)
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=50)]] | None = None
    """Concurrent contacts per channel; default voice 1 and chat 1 (exclusive)."""
    interruptible_by: dict[Channel, tuple[Channel, ...]] = Field(default_factory=dict)
    team: str = ""
    shift: Shift | None = None
    breaks: tuple[Break, ...] = ()
    shrinkage: float | None = Field(None, ge=0, lt=1)


@dataclass(frozen=True, slots=True)
class Segment:
    """Arrival rate (per second) and average handle time over [start, end)."""

    start: float
    end: float
    rate: float
    aht_s: float | None


@dataclass(frozen=True, slots=True)
class BreakPlan:
    start: float
    end: float
    stagger: float
    reason: str


@dataclass(frozen=True, slots=True)
class GroupPlan:
    name: str
    scheduled: int
    agents: int
    """Scheduled minus shrinkage: the agents who actually log in."""
    skills: dict[str, int]
    capacity: dict[Channel, int]
    interruptible_by: dict[Channel, tuple[Channel, ...]]
    team: str
    login_at: float
    logout_at: float | None
    breaks: tuple[BreakPlan, ...]


class Scenario(_Strict):
    name: str = ""
    description: str = ""
    start: str = "00:00"
    """Time of day at simulation time 0 (labels, and where HH:MM times are measured from)."""
    duration: Duration | None = None
    """Simulated time; defaults to the end of the forecast."""
    warmup: Duration = 0.0
    """Statistics exclude the first `warmup` of the run (a whole number of intervals)."""
    interval_min: Literal[15, 30, 60] = 15
    seed: int = Field(1, ge=0)
    replications: int = Field(20, ge=1)
    strategy: AgentStrategy = "longest_idle"
    selector: ContactSelector = "fcfs"
    blend: BlendWeights = BlendWeights()
    reason_codes: tuple[str, ...] = DEFAULT_REASON_CODES
    service_level_variant: SLVariant = SLVariant.ALL_ABANDONS_FAIL
    answer_delay: Distribution | None = None
    """Time a virtual agent takes to accept an offer; default: at once."""
    shrinkage: float = Field(0.0, ge=0, lt=1)
    queues: list[QueueSpec] = Field(min_length=1)
    agents: list[AgentGroup] = Field(min_length=1)

    _horizon: float = PrivateAttr(0.0)
    _segments: dict[str, tuple[Segment, ...]] = PrivateAttr(default_factory=dict)
    _groups: tuple[GroupPlan, ...] = PrivateAttr(())
    _base_dir: str = PrivateAttr(".")

    @field_validator("start")
    @classmethod
    def _start_clock(cls, value: str) -> str:
        parse_clock(value)
        return value

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> Scenario:
        self._base_dir = str((info.context or {}).get("base_dir", "."))
        issues: list[Issue] = []
        if self._resolve_horizon(issues):
            self._resolve_queues(issues)
            self._resolve_groups(issues)
            self._check_coverage(issues)
        if issues:
            raise ScenarioError(issues)
        return self

    # -- resolution (runs once, at validation) ------------------------------------

    @property
    def interval_s(self) -> int:
        return self.interval_min * 60

    @property
    def horizon_s(self) -> float:
        return self._horizon

    @property
    def start_s(self) -> float:
        return parse_clock(self.start)

    def at(self, point: str | float) -> float:
        """Simulation time of a time point (time of day, or offset from the start)."""
        if isinstance(point, str):
            offset = parse_clock(point) - self.start_s
            return offset + DAY_S if offset < 0 else offset
        return float(point)

    def segments(self, queue: str) -> tuple[Segment, ...]:
        return self._segments[queue]

    @property
    def groups(self) -> tuple[GroupPlan, ...]:
        return self._groups

    @property
    def has_forecast(self) -> bool:
        return any(q.forecast for q in self.queues)

    def _resolve_horizon(self, issues: list[Issue]) -> bool:
        """Sets the horizon; False when there is none (nothing else can be checked)."""
        horizon = self.duration
        if horizon is None:
            ends = [
                self.at(row.interval_start) + self.interval_s
                for q in self.queues
                for row in q.forecast or ()
            ]
            if not ends:
                issues.append(Issue("duration", "missing", "add duration (e.g. duration: 8h)"))
                return False
            horizon = max(ends)
        if horizon <= 0:
            issues.append(Issue("duration", "must be longer than 0", "e.g. duration: 8h"))
            return False
        if self.warmup >= horizon:
            issues.append(
                Issue(
                    "warmup",
                    f"warm-up {self.warmup:g} s is not shorter than the run ({horizon:g} s)",
                    "shorten warmup or lengthen duration",
                )
            )
        if self.warmup % self.interval_s:
            issues.append(
                Issue(
                    "warmup",
                    f"warm-up {self.warmup:g} s is not a whole number of "
                    f"{self.interval_min}-minute intervals",
                    f"use a multiple of {self.interval_min}m, e.g. warmup: {self.interval_min}m",
                )
            )
        self._horizon = horizon
        return True

    def _resolve_queues(self, issues: list[Issue]) -> None:
        names = [q.name for q in self.queues]
        for i, q in enumerate(self.queues):
            path = f"queues[{i}] ({q.name})"
            if names.count(q.name) > 1:
                issues.append(
                    Issue(f"{path}.name", "repeated queue name", "give each a unique name")
                )
            has_rate, has_forecast = q.arrival_rate_per_hour is not None, q.forecast is not None
            if has_rate == has_forecast:
                issues.append(
                    Issue(
                        path,
                        "give arrivals either as arrival_rate_per_hour or as forecast, "
                        + ("not both" if has_rate else "neither is set"),
                        "e.g. arrival_rate_per_hour: 360, or forecast: {file: forecast.csv}",
                    )
                )
                continue
            for j, step in enumerate(q.steps):
                for fb in step.fallback_queues:
                    if fb not in names:
                        issues.append(
                            Issue(
                                f"{path}.steps[{j}].fallback_queues",
                                f"queue {fb!r} does not exist",
                                f"use one of {names}",
                            )
                        )
            if q.max_wait and q.max_wait.action == "overflow" and q.max_wait.target not in names:
                issues.append(
                    Issue(
                        f"{path}.max_wait.target",
                        f"queue {q.max_wait.target!r} does not exist",
                        f"use one of {names}",
                    )
                )
            if q.arrival_rate_per_hour is not None:
                self._segments[q.name] = (
                    Segment(0.0, self._horizon, q.arrival_rate_per_hour / 3600.0, None),
                )
            else:
                self._segments[q.name] = self._forecast_segments(q, path, issues)

    def _forecast_segments(
        self, q: QueueSpec, path: str, issues: list[Issue]
    ) -> tuple[Segment, ...]:
        length = float(self.interval_s)
        rows: dict[float, Segment] = {}
        for j, row in enumerate(q.forecast or ()):
            start = self.at(row.interval_start)
            where = f"{path}.forecast[{j}].interval_start"
            if start % length:
                issues.append(
                    Issue(
                        where,
                        f"{row.interval_start!r} does not start a {self.interval_min}-minute "
                        "interval",
                        f"align interval starts to {self.interval_min} minutes after "
                        f"start {self.start}, or set interval_min",
                    )
                )
                continue
            if start in rows:
                issues.append(Issue(where, f"{row.interval_start!r} given twice", "merge the rows"))
                continue
            if start >= self._horizon:
                continue  # beyond the run: ignored, as a shorter what-if run expects
            if row.arrivals is not None:
                rate = row.arrivals / length
            else:
                rate = (row.arrival_rate_per_hour or 0.0) / 3600.0
            rows[start] = Segment(start, min(start + length, self._horizon), rate, row.aht_s)
        # Intervals the forecast does not mention have no arrivals.
        out: list[Segment] = []
        t = 0.0
        for start in sorted(rows):
            if start > t:
                out.append(Segment(t, start, 0.0, None))
            out.append(rows[start])
            t = rows[start].end
        if t < self._horizon:
            out.append(Segment(t, self._horizon, 0.0, None))
        return tuple(out)

    def _resolve_groups(self, issues: list[Issue]) -> None:
        plans: list[GroupPlan] = []
        seen: set[str] = set()
        for i, g in enumerate(self.agents):
            name = g.name or f"group{i + 1}"
            path = f"agents[{i}] ({name})"
            if name in seen:
                issues.append(
                    Issue(f"{path}.name", "repeated group name", "give each a unique name")
                )
            seen.add(name)
            login, logout = 0.0, None
            if g.shift is not None:
                login, end = self.at(g.shift.start), self.at(g.shift.end)
                if isinstance(g.shift.end, str) and end <= login:
                    end += DAY_S  # an overnight shift ends the next day
                if end <= login:
                    issues.append(
                        Issue(f"{path}.shift", "the shift ends before it starts", "check start/end")
                    )
                    continue
                logout = end if end < self._horizon else None
            breaks: list[BreakPlan] = []
            for j, b in enumerate(g.breaks):
                start = self.at(b.start)
                end_of_shift = logout if logout is not None else self._horizon
                if b.reason not in self.reason_codes:
                    issues.append(
                        Issue(
                            f"{path}.breaks[{j}].reason",
                            f"unknown reason code {b.reason!r}",
                            f"use one of {list(self.reason_codes)} or add it to reason_codes",
                        )
                    )
                if start < login or start + b.stagger + b.duration > end_of_shift:
                    issues.append(
                        Issue(
                            f"{path}.breaks[{j}]",
                            "the break (with its stagger) does not lie within the shift",
                            "move the break or shorten its stagger",
                        )
                    )
                breaks.append(BreakPlan(start, start + b.duration, b.stagger, b.reason))
            shrink = g.shrinkage if g.shrinkage is not None else self.shrinkage
            capacity = dict(g.capacity) if g.capacity is not None else self._default_capacity(g)
            if capacity.get(Channel.VOICE, 0) > 1:
                issues.append(
                    Issue(f"{path}.capacity.voice", "voice is exclusive", "use voice: 0 or 1")
                )
            plans.append(
                GroupPlan(
                    name=name,
                    scheduled=g.count,
                    agents=round(g.count * (1.0 - shrink)),
                    skills=dict(g.skills),
                    capacity=capacity,
                    interruptible_by=dict(g.interruptible_by),
                    team=g.team,
                    login_at=login,
                    logout_at=logout,
                    breaks=tuple(breaks),
                )
            )
        self._groups = tuple(plans)

    def _default_capacity(self, group: AgentGroup) -> dict[Channel, int]:
        """One contact at a time, on the channels of the queues the group can serve."""
        channels = {
            q.channel
            for q in self.queues
            if all(group.skills.get(s, 0) >= lvl for s, lvl in q.required_skills.items())
        }
        return {ch: 1 for ch in sorted(channels or {Channel.VOICE})}

    def _check_coverage(self, issues: list[Issue]) -> None:
        for i, q in enumerate(self.queues):
            need = q.required_skills
            if not any(
                g.capacity.get(q.channel, 0) > 0
                and all(g.skills.get(s, 0) >= lvl for s, lvl in need.items())
                for g in self._groups
            ):
                wanted = ", ".join(f"{s}: {lvl}" for s, lvl in need.items())
                issues.append(
                    Issue(
                        f"queues[{i}] ({q.name})",
                        f"no agent group can take this queue (needs skills {{{wanted}}} and "
                        f"{q.channel.value} capacity)",
                        f"add skills {{{wanted}}} to an agent group, or change the queue's skills",
                    )
                )

    # -- what the routing engine gets ------------------------------------------------

    def routing_config(self) -> RoutingConfig:
        queues = []
        for q in self.queues:
            # Wrap-up durations come from the scenario's distribution: the virtual agent
            # says "done" (mandatory) when its sampled wrap-up is over.
            wrap = WrapUpPolicy(mode="mandatory") if q.wrap_up else WrapUpPolicy(mode="none")
            queues.append(
                QueueConfig(
                    id=q.name,
                    name=q.name,
                    channel=q.channel,
                    skills=q.required_skills,
                    priority=q.priority,
                    service_level=q.service_level,
                    offer_timeout_s=q.offer_timeout_s,
                    wrap_up=wrap,
                    steps=q.steps,
                    max_wait=q.max_wait,
                    priority_aging_per_min=q.priority_aging_per_min,
                    cost_of_wait=q.cost_of_wait,
                    mean_handle_s=q.handle_time.mean,
                    starvation_s=q.starvation_s,
                    short_abandon_s=q.short_abandon_s,
                )
            )
        return RoutingConfig(
            queues=tuple(queues),
            strategy=self.strategy,
            selector=self.selector,
            blend=self.blend,
            reason_codes=self.reason_codes,
        )

    def with_changes(self, **changes: Any) -> Scenario:
        """A validated copy with top-level fields replaced (what-if runs, tests)."""
        data = self.model_dump(mode="python", exclude_none=True)
        data.update(changes)
        return Scenario.model_validate(data, context={"base_dir": self._base_dir})


# --------------------------------------------------------------------- forecast CSV


def read_forecast_csv(path: Path, queue: str | None = None) -> list[dict[str, Any]]:
    """The rows of a forecast file (``forecast_csv`` reads it; ``aht_s`` is optional here)
    for ``queue`` (rows of other queues skipped; every row without a queue column), as
    ``ForecastInterval`` fields. ``interval_start`` is HH:MM or seconds from the start."""
    if not path.is_file():
        raise ValueError(
            f"forecast file {str(path)!r} not found; give a path relative to the scenario file"
        )
    rows: list[dict[str, Any]] = []
    for row in read_forecast_rows(path, aht_required=False):
        if queue is not None and row.queue is not None and row.queue != queue:
            continue
        start = row.start
        if not start.replace(":", "").replace(".", "").isdigit():
            raise ForecastError(
                str(path), row.line, START, f"{start!r} is not HH:MM or seconds; write e.g. 08:30"
            )
        out: dict[str, Any] = {"interval_start": start if ":" in start else float(start)}
        if row.arrivals is not None:
            out["arrivals"] = row.arrivals
        if row.rate_per_hour is not None:
            out["arrival_rate_per_hour"] = row.rate_per_hour
        if row.aht_s is not None:
            out["aht_s"] = row.aht_s
        rows.append(out)
    if not rows:
        raise ValueError(
            f"{path}: no forecast rows"
            + (f" for queue {queue!r}; check its queue column" if queue else "; add rows")
        )
    return rows


# --------------------------------------------------------------------- loading

# Which model a key's value is, to suggest the right spelling for an unknown key.
_MODEL_OF_KEY: dict[str, type[BaseModel]] = {
    "queues": QueueSpec,
    "agents": AgentGroup,
    "forecast": ForecastInterval,
    "service_level": ServiceLevelTarget,
    "steps": RoutingStep,
    "max_wait": MaxWait,
    "shift": Shift,
    "breaks": Break,
    "blend": BlendWeights,
}
_DIST_KEYS = {"handle_time", "patience", "wrap_up", "answer_delay"}
_DIST_EXAMPLE = "e.g. {dist: exponential, mean_s: 240}"
_DIST_FIELDS = {
    "exponential": "mean_s",
    "lognormal": "mean_s, sd_s",
    "gamma": "mean_s, cv",
    "constant": "mean_s",
    "empirical": "file, column",
}
_DIST_EXAMPLES = {
    "exponential": _DIST_EXAMPLE,
    "lognormal": "e.g. {dist: lognormal, mean_s: 240, sd_s: 150}",
    "gamma": "e.g. {dist: gamma, mean_s: 240, cv: 0.8}",
    "constant": "e.g. {dist: constant, mean_s: 30}",
    "empirical": "e.g. {dist: empirical, file: handle_times.csv} (one duration in seconds a line)",
}


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming file, path and fix."""
    p = Path(path)
    source = str(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ScenarioError(
            [Issue("(file)", f"cannot read: {exc.strerror or exc}", "check the path")], source
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(YAML)"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(
            [Issue(where, f"invalid YAML: {problem}", "fix the YAML syntax (indentation, colons)")],
            source,
        ) from None
    return parse_scenario(data, source=source, base_dir=p.parent)


def parse_scenario(data: Any, source: str = "scenario", base_dir: str | Path = ".") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(
            [Issue("(top level)", "not a mapping of keys", "start with e.g. `duration: 8h`")],
            source,
        )
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": str(base_dir)})
    except ScenarioError as exc:
        raise exc.with_source(source) from None
    except ValidationError as exc:
        raise ScenarioError(
            [_issue(err, data) for err in exc.errors(include_url=False)], source
        ) from None
    return scenario


def _issue(err: Any, data: Any) -> Issue:
    loc = [part for part in err["loc"] if not _is_union_label(part)]
    path = _format_path(loc, data)
    kind = err["type"]
    msg = str(err["msg"])
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    parent = _parent_key(loc)
    if kind == "missing":
        if parent in _DIST_KEYS:
            tag = str(err["loc"][-2])
            return Issue(
                path,
                "missing",
                f"add {last}: {tag} needs {_DIST_FIELDS.get(tag, 'mean_s')}, "
                f"{_DIST_EXAMPLES.get(tag, _DIST_EXAMPLE)}",
            )
        return Issue(path, "missing", f"add `{last}`")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc, data)
        close = difflib.get_close_matches(str(last), allowed, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        return Issue(
            path, f"unknown key `{last}`", f"{hint}remove it; allowed here: {', '.join(allowed)}"
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        given = (err.get("ctx") or {}).get("tag")
        problem = f"unknown distribution {given!r}" if given else "no `dist:` given"
        return Issue(path, problem, f"set dist: one of {', '.join(DIST_NAMES)}; {_DIST_EXAMPLE}")
    if kind.startswith(("greater_than", "less_than")):
        return Issue(
            path,
            f"{err.get('input')!r} is out of range",
            f"use a number {msg.removeprefix('Input should be ')}",
        )
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type", "int_from_float"):
        return Issue(path, msg, "use a plain number (seconds for times)")
    if kind in ("literal_error", "enum"):
        return Issue(path, msg, msg.replace("Input should be", "use"))
    if kind in ("list_type", "dict_type", "model_type"):
        expected = "a list (- item lines)" if kind == "list_type" else "a mapping (key: value)"
        return Issue(path, msg, f"write {expected}")
    if kind == "value_error":
        problem, _, fix = msg.removeprefix("Value error, ").partition("; ")
        return Issue(path, problem, fix or "see the examples in config/scenarios/")
    return Issue(path, msg, "see the examples in config/scenarios/")


def _is_union_label(part: Any) -> bool:
    return isinstance(part, str) and (
        part in DIST_NAMES or "[" in part or part[:1].isupper() or part.startswith("function-")
    )


def _format_path(loc: list[Any], data: Any) -> str:
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


def _parent_key(loc: list[Any]) -> str:
    keys = [p for p in loc if isinstance(p, str)]
    return keys[-2] if len(keys) >= 2 else ""


def _allowed_keys(loc: list[Any], data: Any) -> list[str]:
    keys = [p for p in loc[:-1] if isinstance(p, str)]
    owner = keys[-1] if keys else ""
    if owner in _DIST_KEYS:
        node = data
        for part in loc[:-1]:
            node = node[part] if isinstance(node, dict | list) else None
        tag = node.get("dist") if isinstance(node, dict) else None
        fields = _DIST_FIELDS.get(str(tag), "mean_s").split(", ")
        return ["dist", *[f.split(" ")[0] for f in fields]]
    model = _MODEL_OF_KEY.get(owner, Scenario if not keys else None)
    return sorted(model.model_fields) if model is not None else []
