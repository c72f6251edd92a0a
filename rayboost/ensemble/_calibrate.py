"""Temperature scaling of class probabilities (Guo et al., 2017), fit on validation predictions.

A member's probabilities ``p`` become ``softmax(log p / T)``: T > 1 softens an over-confident
member, T < 1 sharpens an under-confident one (a net trained with label smoothing), and the
predicted class never changes. Working from probabilities rather than logits lets one rule serve
nets, XGBoost and the linear model alike. T is the bounded one-dimensional minimiser of the
validation log loss, so it cannot over-fit a small validation split the way a weight per class
could.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["TEMPERATURE_BOUNDS", "apply_temperature", "fit_temperature"]

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


def _log_loss(P: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(P[np.arange(len(y)), y], _CLIP, 1.0))))


def fit_temperature(P: np.ndarray, y: np.ndarray) -> float:
    """The temperature in :data:`TEMPERATURE_BOUNDS` that minimises the log loss of ``P`` on
    labels ``y`` (class indices). Returns 1.0 when it does not beat leaving ``P`` as it is."""
    P = np.asarray(P, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    low, high = (math.log(b) for b in TEMPERATURE_BOUNDS)
    result = minimize_scalar(
        lambda log_t: _log_loss(apply_temperature(P, math.exp(log_t)), y),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    temperature = float(math.exp(result.x))
    if _log_loss(apply_temperature(P, temperature), y) >= _log_loss(P, y):
        return 1.0
    return temperature
