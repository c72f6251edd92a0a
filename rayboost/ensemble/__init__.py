"""Ensemble: weights fit on validation predictions, test scored once, a saved estimator."""

from __future__ import annotations

from rayboost.ensemble._build import EnsembleFit, Member, fit_ensemble, user_weights
from rayboost.ensemble._model import EnsembleModel, members_frame, save_ensemble
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
    "EnsembleFit",
    "EnsembleModel",
    "Member",
    "bootstrap_diff_ci",
    "fit_ensemble",
    "fit_weights",
    "members_frame",
    "save_ensemble",
    "score",
    "user_weights",
    "weighted_average",
]
