"""XGBoost and linear members trained as Ray tasks, beside the net trials, on the same split;
XGBoost's task searches its configurations (see :mod:`rayboost.tuning._xgboost`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ray

from rayboost.config import Config
from rayboost.data import TrialData
from rayboost.models import LinearModel
from rayboost.tuning._xgboost import search_xgboost

__all__ = ["FittedMember", "collect_members", "start_members"]


@dataclass
class FittedMember:
    kind: str
    model: Any  # XGBoostModel | LinearModel, fitted
    val_pred: Any  # (n_val, outputs)
    duration_s: float
    node_id: str
    search: list[dict[str, Any]] | None = None  # XGBoost: one record per configuration tried


def _fit(
    kind: str,
    data: TrialData,
    cfg: Config,
    n_threads: int,
    seconds: float | None,
    until: float | None,
) -> FittedMember:
    start = time.time()
    node_id = ray.get_runtime_context().get_node_id()
    if kind == "xgboost":
        ends = [t for t in (None if seconds is None else start + seconds, until) if t is not None]
        model, val_pred, records = search_xgboost(
            data,
            cfg.ensemble.xgboost_params,
            cfg.ensemble.xgboost_trials,
            cfg.seed,
            n_threads,
            min(ends, default=None),
        )
        return FittedMember(kind, model, val_pred, time.time() - start, node_id, records)
    n_classes = data.n_outputs if data.task == "classification" else None
    model = LinearModel(
        data.task,
        n_classes=n_classes,
        seed=cfg.seed,
        n_threads=n_threads,
        layout=getattr(data, "layout", None),
    )
    model.fit(data.X_train, data.y_train, data.X_val, data.y_val)  # selection on validation only
    return FittedMember(kind, model, model.predict_output(data.X_val), time.time() - start, node_id)


def start_members(
    cfg: Config,
    data_ref: ray.ObjectRef,
    kinds: list[str],
    seconds: float | None = None,
    until: float | None = None,
) -> list[ray.ObjectRef]:
    """Submit one Ray task per member family in ``kinds`` ("xgboost", "linear"); they run while
    the net trials run. Ray retries a task whose node died.

    XGBoost's search stops starting configurations ``seconds`` after its task starts or at
    ``until`` (a ``time.time()``), whichever comes first; None: all ``ensemble.xgboost_trials``."""
    cpus = cfg.resources.cpus_per_trial
    fit = ray.remote(_fit).options(num_cpus=cpus, max_retries=2)
    return [fit.remote(kind, data_ref, cfg, max(1, int(cpus)), seconds, until) for kind in kinds]


def collect_members(refs: list[ray.ObjectRef]) -> list[FittedMember]:
    return list(ray.get(refs))
