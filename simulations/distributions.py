"""Random inputs of a simulation: durations (handle time, patience, wrap-up, answer delay)
and arrival times.

Each family is a small pydantic model (validated at the scenario boundary) that knows its
mean and draws numpy batches. The simulator never draws one variate at a time from numpy:
``stream()`` turns batches into a plain Python iterator, which costs tens of nanoseconds per
value instead of the microsecond of a scalar numpy call.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

BATCH = 2048
"""Variates drawn per numpy call: large enough to amortise the call, small enough that a
short run does not draw far more than it uses."""


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def mean(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_s: float = Field(gt=0)

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)

    def describe(self) -> str:
        return f"exponential(mean {self.mean_s:g} s)"


class Lognormal(_Dist):
    dist: Literal["lognormal"]
    mean_s: float = Field(gt=0)
    sd_s: float = Field(gt=0)

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # Parameters of the underlying normal from the mean and sd of the lognormal itself.
        sigma2 = math.log1p((self.sd_s / self.mean_s) ** 2)
        mu = math.log(self.mean_s) - sigma2 / 2.0
        return rng.lognormal(mu, math.sqrt(sigma2), n)

    def describe(self) -> str:
        return f"lognormal(mean {self.mean_s:g} s, sd {self.sd_s:g} s)"


class Gamma(_Dist):
    dist: Literal["gamma"]
    mean_s: float = Field(gt=0)
    cv: float = Field(gt=0, description="coefficient of variation, sd / mean")

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / (self.cv * self.cv)
        return rng.gamma(shape, self.mean_s / shape, n)

    def describe(self) -> str:
        return f"gamma(mean {self.mean_s:g} s, cv {self.cv:g})"


class Constant(_Dist):
    dist: Literal["constant"]
    mean_s: float = Field(ge=0, description="the value every draw takes")

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # Still consumes nothing from rng: a constant needs no randomness.
        return np.full(n, self.mean_s)

    def describe(self) -> str:
        return f"constant({self.mean_s:g} s)"


class Empirical(_Dist):
    """Resample (with replacement) durations recorded in a CSV file.

    ``file`` is relative to the scenario file; ``column`` names the column (default: the
    first one). Values must be seconds, non-negative."""

    dist: Literal["empirical"]
    file: str
    column: str | None = None
    _values: np.ndarray = PrivateAttr(default_factory=lambda: np.empty(0))

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> Empirical:
        base = Path((info.context or {}).get("base_dir", "."))
        path = Path(self.file)
        if not path.is_absolute():
            path = base / path
        if not path.is_file():
            raise ValueError(
                f"empirical durations file {str(path)!r} not found; give a path relative to "
                "the scenario file"
            )
        self._values = _read_durations(path, self.column)
        return self

    @property
    def values(self) -> np.ndarray:
        return self._values

    @property
    def mean(self) -> float:
        return float(self._values.mean())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self._values[rng.integers(0, len(self._values), n)]

    def describe(self) -> str:
        return f"empirical({self.file}, {len(self._values)} values, mean {self.mean:.4g} s)"


def _read_durations(path: Path, column: str | None) -> np.ndarray:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(f"{path}: no durations; put one number of seconds per line")
    header = rows[0]
    has_header = not _is_number(header[0])
    index = 0
    if column is not None:
        if not has_header or column not in header:
            raise ValueError(
                f"{path}: column {column!r} not found; columns: {header if has_header else []}"
            )
        index = header.index(column)
    values: list[float] = []
    for line_no, row in enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1):
        cell = row[index].strip() if index < len(row) else ""
        if not _is_number(cell) or float(cell) < 0:
            raise ValueError(
                f"{path}: line {line_no}: {cell!r} is not a duration; use seconds >= 0"
            )
        values.append(float(cell))
    if not values:
        raise ValueError(f"{path}: no durations below the header; add one number a line")
    return np.asarray(values, dtype=float)


def _is_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value)


Distribution = Annotated[
    Exponential | Lognormal | Gamma | Constant | Empirical, Field(discriminator="dist")
]
DIST_NAMES = ("exponential", "lognormal", "gamma", "constant", "empirical")


# --------------------------------------------------------------------- random streams

STREAM_ARRIVALS = 0
STREAM_HANDLE = 1
STREAM_PATIENCE = 2
STREAM_WRAPUP = 3
STREAM_ANSWER = 4


def rng_for(seed: int, replication: int, subject: str, purpose: int) -> np.random.Generator:
    """An independent generator per (seed, replication, subject, purpose).

    Subjects are keyed by name, not position, so two scenarios that differ elsewhere (more
    agents, another strategy, an extra queue) still see the same callers on a queue of the
    same name: common random numbers make their comparison much sharper."""
    key = zlib.crc32(subject.encode())
    sequence = np.random.SeedSequence(seed, spawn_key=(replication, key, purpose))
    return np.random.default_rng(sequence)


def stream(dist: _Dist, rng: np.random.Generator, batch: int = BATCH) -> Iterator[float]:
    """Endless iterator of floats drawn in batches."""
    sample = dist.sample
    while True:
        yield from sample(rng, batch).tolist()


def arrival_times(
    starts: Sequence[float],
    ends: Sequence[float],
    rates: Sequence[float],
    rng: np.random.Generator,
    profile: str = "step",
) -> np.ndarray:
    """Arrival times of a non-homogeneous Poisson process over consecutive segments.

    step: the rate is constant within each segment. Exact and vectorised by time change:
    the epochs of a unit-rate Poisson process mapped through the inverse of the cumulative
    intensity (piecewise linear, so np.interp inverts it). The unit epochs are all that is
    drawn, so scenarios that differ only in their rates still see "the same" callers.

    linear: the rate moves linearly between segment midpoints (flat before the first and
    after the last); generated by thinning a homogeneous process at the peak rate.
    """
    t0, t1 = np.asarray(starts, float), np.asarray(ends, float)
    lam = np.asarray(rates, float)
    if profile == "linear":
        return _thinned(t0, t1, lam, rng)
    breaks_t = np.concatenate(([t0[0]], t1))
    breaks_l = np.concatenate(([0.0], np.cumsum(lam * (t1 - t0))))
    epochs = _unit_epochs(float(breaks_l[-1]), rng)
    return np.asarray(np.interp(epochs, breaks_l, breaks_t), dtype=float)


def _unit_epochs(total: float, rng: np.random.Generator) -> np.ndarray:
    """Epochs of a unit-rate Poisson process up to ``total``."""
    chunks: list[np.ndarray] = []
    last = 0.0
    while last <= total:
        want = int(total - last + 6.0 * math.sqrt(total - last + 1.0) + 16)
        chunk = last + np.cumsum(rng.exponential(1.0, want))
        chunks.append(chunk)
        last = float(chunk[-1])
    epochs = np.concatenate(chunks) if chunks else np.empty(0)
    return epochs[epochs < total]


def _thinned(
    t0: np.ndarray, t1: np.ndarray, lam: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    peak = float(lam.max()) if len(lam) else 0.0
    if peak <= 0.0:
        return np.empty(0)
    mids = (t0 + t1) / 2.0
    start, end = float(t0[0]), float(t1[-1])
    candidates = start + _unit_epochs((end - start) * peak, rng) / peak
    keep = rng.random(len(candidates)) * peak < np.interp(candidates, mids, lam)
    return np.asarray(candidates[keep], dtype=float)
