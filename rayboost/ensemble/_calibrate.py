"""Temperature scaling of class probabilities (Guo et al., 2017), fit on validation predictions.

A member's probabilities ``p`` become ``softmax(log p / T)``: T > 1 softens an over-confident
member, T < 1 sharpens an under-confident one (a net trained with label smoothing), and the
predicted class never changes. Working from probabilities rather than logits lets one rule serve
nets, XGBoost and the linear model alike. T is the bounded one-dimensional minimiser of the
validation cross-entropy, so it cannot over-fit a small validation split the way a weight per
class could.

The targets are Platt's (1999) rather than the bare labels: with n validation rows the true class
gets 1 − 1/(n + 2) and the others share 1/(n + 2). A member that is right on every validation row
— common for the best of many trials on a few hundred rows — would otherwise be sharpened without
limit (T at its lower bound) and pay for it on the first test row it gets wrong; with these
targets it is sharpened only as far as n right answers justify.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["TEMPERATURE_BOUNDS", "apply_temperature", "fit_temperature", "platt_targets"]

TEMPERATURE_BOUNDS = (0.05, 20.0)
_CLIP = 1e-15


def apply_temperature(P: np.ndarray, temperature: float | None) -> np.ndarray:
    """``softmax(log P / T)`` row-wise for (samples, classes) probabilities; None or 1: unchanged."""
    P = np.asarray(P, dtype=np.float64)
    if temperature is None or temperature == 1.0:
        return P
    logits = np.log(np.clip(P, _CLIP, 1.0)) / float(temperature)
    logits -= logits.max(axis=-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=-1, keepdims=True)


def platt_targets(y: np.ndarray, classes: int) -> np.ndarray:
    """(n, classes) targets: 1 − 1/(n + 2) on the true class, 1/(n + 2) shared by the others."""
    n = len(y)
    eps = 1.0 / (n + 2)
    targets = np.full((n, classes), eps / max(classes - 1, 1))
    targets[np.arange(n), y] = 1.0 - eps
    return targets


def _cross_entropy(P: np.ndarray, targets: np.ndarray) -> float:
    return float(-np.mean((targets * np.log(np.clip(P, _CLIP, 1.0))).sum(axis=1)))


def fit_temperature(P: np.ndarray, y: np.ndarray) -> float:
    """The temperature in :data:`TEMPERATURE_BOUNDS` that minimises the cross-entropy of ``P``
    against Platt's targets for labels ``y`` (class indices). Returns 1.0 when it does not beat
    leaving ``P`` as it is."""
    P = np.asarray(P, dtype=np.float64)
    targets = platt_targets(np.asarray(y, dtype=np.int64), P.shape[1])
    low, high = (math.log(b) for b in TEMPERATURE_BOUNDS)
    result = minimize_scalar(
        lambda log_t: _cross_entropy(apply_temperature(P, math.exp(log_t)), targets),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    temperature = float(math.exp(result.x))
    if _cross_entropy(apply_temperature(P, temperature), targets) >= _cross_entropy(P, targets):
        return 1.0
    return temperature
