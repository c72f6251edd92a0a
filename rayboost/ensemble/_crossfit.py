"""A cross-fitted estimate of the ensemble's score from the validation split alone.

The validation rows are cut into k folds; for each fold the temperatures and weights are fit on
the other folds and applied to it. The out-of-fold predictions are scored like test rows would
be: what a user can expect from the ensemble, and from each calibrated member, before the test
split is read.
"""

from __future__ import annotations

import numpy as np

from rayboost.ensemble._calibrate import apply_temperature, fit_temperature
from rayboost.ensemble._weights import fit_weights, weighted_average

__all__ = ["calibrate_members", "cross_fit"]


def calibrate_members(
    P: np.ndarray, y: np.ndarray, task: str, calibrate: bool
) -> tuple[np.ndarray, list[float | None]]:
    """Each member's temperature fit on (P[i], y) and applied: (calibrated P, temperatures).
    Regression members, or ``calibrate=False``, keep their predictions (temperature None)."""
    if task != "classification" or not calibrate:
        return P, [None] * len(P)
    temperatures: list[float | None] = [fit_temperature(p, y) for p in P]
    return np.stack(
        [apply_temperature(p, t) for p, t in zip(P, temperatures, strict=True)]
    ), temperatures


def cross_fit(
    P: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    method: str,
    weights: np.ndarray | None = None,
    calibrate: bool = True,
    folds: int = 5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (calibrated members (M, N, O), ensemble (N, O)) predictions over ``folds``
    shuffled folds of the N validation rows (fewer folds when there are fewer rows)."""
    n = P.shape[1]
    k = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    members_oof = np.zeros_like(P, dtype=np.float64)
    ensemble_oof = np.zeros(P.shape[1:], dtype=np.float64)
    for held in np.array_split(order, k):
        fit_rows = np.setdiff1d(order, held)
        P_fit, temperatures = calibrate_members(P[:, fit_rows], y[fit_rows], task, calibrate)
        w = fit_weights(P_fit, y[fit_rows], task=task, method=method, weights=weights, seed=seed)
        P_held = np.stack(
            [apply_temperature(p, t) for p, t in zip(P[:, held], temperatures, strict=True)]
        )
        members_oof[:, held] = P_held
        ensemble_oof[held] = weighted_average(P_held, w)
    return members_oof, ensemble_oof
