"""Ensemble: weights fit on validation predictions, test scored once, a saved estimator."""

from __future__ import annotations

from rayboost.ensemble._build import (
    EnsembleFit,
    Member,
    Refit,
    Refitter,
    fit_ensemble,
    user_weights,
)
from rayboost.ensemble._model import REFIT, EnsembleModel, members_frame, save_ensemble, save_member
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
    "REFIT",
    "TASKS",
    "EnsembleFit",
    "EnsembleModel",
    "Member",
    "Refit",
    "Refitter",
    "bootstrap_diff_ci",
    "fit_ensemble",
    "fit_weights",
    "members_frame",
    "save_ensemble",
    "save_member",
    "score",
    "user_weights",
    "weighted_average",
]
