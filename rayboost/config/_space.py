"""Search-space distributions: plain data, independent of Ray.

In YAML a hyperparameter is written as
  * a scalar            -> a constant           ``filters: 32``
  * a list              -> a choice             ``bn: [before, after, none]``
  * a one-key mapping   -> a distribution       ``lr: {loguniform: [1.0e-4, 1.0e-2]}``
    with keys ``choice``, ``uniform``, ``loguniform``, ``randint`` (inclusive bounds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rayboost._errors import ConfigError

__all__ = [
    "Choice",
    "Constant",
    "Dist",
    "IntUniform",
    "LogUniform",
    "Uniform",
    "dist_to_plain",
    "parse_dist",
]


@dataclass(frozen=True)
class Constant:
    value: Any


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float


@dataclass(frozen=True)
class IntUniform:
    low: int
    high: int  # inclusive


Dist = Constant | Choice | Uniform | LogUniform | IntUniform
_KINDS = ("choice", "uniform", "loguniform", "randint")


def _bounds(key: str, kind: str, raw: Any) -> tuple[float, float]:
    if not (isinstance(raw, (list, tuple)) and len(raw) == 2):
        raise ConfigError(f"{key}: {kind} needs [low, high], got {raw!r}")
    try:
        low, high = float(raw[0]), float(raw[1])
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: {kind} bounds must be numbers, got {raw!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise ConfigError(f"{key}: {kind} needs finite low < high, got {raw!r}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{key}: loguniform needs low > 0, got {raw!r}")
    return low, high


def parse_dist(key: str, raw: Any) -> Dist:
    """Turn the YAML form of one hyperparameter into a distribution."""
    if isinstance(raw, (Constant, Choice, Uniform, LogUniform, IntUniform)):
        return raw
    if isinstance(raw, (list, tuple)):
        raw = {"choice": list(raw)}
    if not isinstance(raw, dict):
        return Constant(raw)
    if len(raw) != 1 or next(iter(raw)) not in _KINDS:
        raise ConfigError(
            f"{key}: a distribution is one of {{choice: [...]}}, {{uniform: [lo, hi]}}, "
            f"{{loguniform: [lo, hi]}}, {{randint: [lo, hi]}}; got {raw!r}"
        )
    kind, arg = next(iter(raw.items()))
    if kind == "choice":
        if not isinstance(arg, (list, tuple)) or len(arg) == 0:
            raise ConfigError(f"{key}: choice needs a non-empty list of values, got {arg!r}")
        if len(arg) == 1:
            return Constant(arg[0])
        return Choice(tuple(arg))
    low, high = _bounds(key, kind, arg)
    if kind == "uniform":
        return Uniform(low, high)
    if kind == "loguniform":
        return LogUniform(low, high)
    if low != int(low) or high != int(high):
        raise ConfigError(f"{key}: randint bounds must be integers, got {arg!r}")
    return IntUniform(int(low), int(high))


def dist_to_plain(dist: Dist) -> Any:
    """The YAML form of a distribution (inverse of :func:`parse_dist`)."""
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Choice):
        return {"choice": list(dist.values)}
    if isinstance(dist, Uniform):
        return {"uniform": [dist.low, dist.high]}
    if isinstance(dist, LogUniform):
        return {"loguniform": [dist.low, dist.high]}
    return {"randint": [dist.low, dist.high]}
