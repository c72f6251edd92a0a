"""Ensemble weights, scoring and paired bootstrap comparison over member predictions."""

from __future__ import annotations

from rayboost.ensemble._weights import (
    METHODS,
    TASKS,
    bootstrap_diff_ci,
    fit_weights,
    score,
    weighted_average,
)

__all__ = [
    "METHODS",
    "TASKS",
    "bootstrap_diff_ci",
    "fit_weights",
    "score",
    "weighted_average",
]
