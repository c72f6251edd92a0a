"""Fit ensemble weights on validation predictions, then score every member and the ensemble on
test — once, after the weights are fixed. Pure NumPy over models that have ``predict_output``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rayboost._errors import ConfigError
from rayboost.ensemble._calibrate import apply_temperature
from rayboost.ensemble._crossfit import calibrate_members, cross_fit
from rayboost.ensemble._weights import bootstrap_diff_ci, fit_weights, score, weighted_average

__all__ = ["EnsembleFit", "Member", "Refit", "Refitter", "fit_ensemble", "user_weights"]


class Predictor(Protocol):
    kind: str

    def predict_output(self, X: np.ndarray) -> np.ndarray: ...


@dataclass
class Member:
    name: str  # net_1, net_2, ..., xgboost, linear
    kind: str  # net | xgboost | linear
    model: Predictor
    val_pred: np.ndarray  # (samples, outputs) on the validation split
    trial_id: str | None = None


@dataclass
class EnsembleFit:
    method: str
    weights: np.ndarray
    rows: list[dict[str, Any]]  # the members table, one row per member plus "ensemble"
    summary: dict[str, Any] = field(default_factory=dict)
    temperatures: list[float | None] = field(default_factory=list)  # per member; None: not scaled
    refits: dict[str, Refit] = field(
        default_factory=dict
    )  # member name -> its refit on train + validation


@dataclass
class Refit:
    """A member trained again on train + validation rows, and how (rows, epochs, time)."""

    model: Predictor
    record: dict[str, Any] = field(default_factory=dict)


Refitter = Callable[[list[Member], np.ndarray], dict[str, Refit]]
"""Given the members and their weights (fixed on validation), the refit of each member it
trained again on train + validation rows (typically those with weight)."""


def user_weights(members: list[Member], given: dict[str, float]) -> np.ndarray:
    """Weights per member name (unlisted members get 0)."""
    names = [m.name for m in members]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ConfigError(
            f"ensemble.weights: unknown member {unknown[0]!r}; members are: {', '.join(names)}"
        )
    w = np.array([float(given.get(name, 0.0)) for name in names])
    if w.sum() <= 0:
        raise ConfigError(
            f"ensemble.weights: give a positive weight to at least one of: {', '.join(names)}"
        )
    return w


def _prefixed(prefix: str, scores: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{k}": v for k, v in scores.items()}


def fit_ensemble(
    members: list[Member],
    y_val: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    task: str,
    method: str = "bagged",
    weights: dict[str, float] | None = None,
    seed: int = 0,
    calibrate: bool = True,
    refit: Refitter | None = None,
) -> EnsembleFit:
    """Temperatures and weights from validation predictions only, with a cross-fitted estimate
    of every score on validation; then, with ``refit``, the members trained again on train +
    validation rows; then one test pass over every member (both versions of a refit one)."""
    if not members:
        raise ConfigError(
            "the ensemble has no members; enable nets (ensemble.top_k), xgboost or linear"
        )
    P_raw = np.stack([m.val_pred for m in members]).astype(np.float64)
    y_val = np.asarray(y_val)
    if task == "classification":
        y_val = y_val.astype(np.int64)
    given = user_weights(members, weights or {}) if method == "weights" else None
    P_val, temperatures = calibrate_members(P_raw, y_val, task, calibrate)
    w = fit_weights(P_val, y_val, task=task, method=method, weights=given, seed=seed)
    cv_members, cv_ensemble = cross_fit(
        P_raw, y_val, task=task, method=method, weights=given, calibrate=calibrate, seed=seed
    )
    refits = refit(members, w) if refit is not None else {}

    # -- temperatures, weights and refits are fixed; only now does any model see the test rows --
    def test_output(model: Predictor, t: float | None) -> np.ndarray:
        return apply_temperature(model.predict_output(X_test), t)

    P_test = np.stack([test_output(m.model, t) for m, t in zip(members, temperatures, strict=True)])
    P_final = P_test.copy()  # what the ensemble hands back: the refit version where there is one
    for i, (member, t) in enumerate(zip(members, temperatures, strict=True)):
        if member.name in refits:
            P_final[i] = test_output(refits[member.name].model, t)
    ens_val, ens_test, ens_final = (
        weighted_average(P_val, w),
        weighted_average(P_test, w),
        weighted_average(P_final, w),
    )
    rows = []
    for i, member in enumerate(members):
        again = member.name in refits
        rows.append(
            {
                "member": member.name,
                "kind": member.kind,
                "trial_id": member.trial_id,
                "weight": float(w[i]),
                "temperature": temperatures[i],
                "refit": again,
                **_prefixed("val", score(P_val[i], y_val, task=task)),
                **_prefixed("cv", score(cv_members[i], y_val, task=task)),
                **_prefixed("test", score(P_test[i], y_test, task=task)),
                **(_prefixed("refit_test", score(P_final[i], y_test, task=task)) if again else {}),
            }
        )
    rows.append(
        {
            "member": "ensemble",
            "kind": "ensemble",
            "trial_id": None,
            "weight": float(w.sum()),
            "temperature": None,
            "refit": bool(refits),
            **_prefixed("val", score(ens_val, y_val, task=task)),
            **_prefixed("cv", score(cv_ensemble, y_val, task=task)),
            **_prefixed("test", score(ens_test, y_test, task=task)),
            **(_prefixed("refit_test", score(ens_final, y_test, task=task)) if refits else {}),
        }
    )
    metric = "accuracy" if task == "classification" else "rmse"
    sign = 1.0 if task == "classification" else -1.0

    # the best member is chosen the honest way: by its validation score (ties: validation
    # log loss, then the first listed), as the greedy weights pick their first member
    def rank(i: int) -> tuple[float, float, int]:
        return (sign * rows[i][f"val_{metric}"], -rows[i].get("val_log_loss", 0.0), -i)

    best = max(range(len(members)), key=rank)
    final = "refit_test" if refits else "test"
    ci = bootstrap_diff_ci(ens_final, P_final[best], y_test, task=task, seed=seed)
    summary = {
        "method": method,
        "calibrated": calibrate and task == "classification",
        "refit": [m.name for m in members if m.name in refits],
        "metric": metric,
        f"ensemble_cv_{metric}": rows[-1][f"cv_{metric}"],
        f"best_member_cv_{metric}": rows[best][f"cv_{metric}"],
        f"ensemble_test_{metric}": rows[-1][f"{final}_{metric}"],
        f"ensemble_before_refit_test_{metric}": rows[-1][f"test_{metric}"],
        "best_member": members[best].name,
        f"best_member_test_{metric}": rows[best].get(
            f"refit_test_{metric}", rows[best][f"test_{metric}"]
        ),
        "ensemble_minus_best": ci["diff"],
        "ensemble_minus_best_ci": [ci["ci_low"], ci["ci_high"]],
        # what each non-net member learned: XGBoost's rounds and best iteration, the linear C/alpha
        "members_info": {
            m.name: getattr(m.model, "summary_", None) for m in members if m.kind != "net"
        },
    }
    return EnsembleFit(method, w, rows, summary, temperatures, refits)
