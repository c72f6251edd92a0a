"""XGBoost and linear members trained as Ray tasks, beside the net trials, on the same split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import ray

from rayboost.config import Config
from rayboost.data import TrialData
from rayboost.models import LinearModel, XGBoostModel

__all__ = ["FittedMember", "collect_members", "start_members"]


@dataclass
class FittedMember:
    kind: str
    model: Any  # XGBoostModel | LinearModel, fitted
    val_pred: Any  # (n_val, outputs)
    duration_s: float
    node_id: str


def _fit(kind: str, data: TrialData, params: dict[str, Any], seed: int, n_threads: int) -> FittedMember:
    start = time.time()
    cls = XGBoostModel if kind == "xgboost" else LinearModel
    n_classes = data.n_outputs if data.task == "classification" else None
    model = cls(data.task, n_classes=n_classes, params=params or None, seed=seed, n_threads=n_threads)
    model.fit(data.X_train, data.y_train, data.X_val, data.y_val)  # selection on validation only
    node_id = ray.get_runtime_context().get_node_id()
    return FittedMember(kind, model, model.predict_output(data.X_val), time.time() - start, node_id)


def start_members(cfg: Config, data_ref: ray.ObjectRef, kinds: list[str]) -> list[ray.ObjectRef]:
    """Submit one Ray task per member family in ``kinds`` ("xgboost", "linear"); they run while
    the net trials run. Ray retries a task whose node died."""
    cpus = cfg.resources.cpus_per_trial
    fit = ray.remote(_fit).options(num_cpus=cpus, max_retries=2)
    params = {"xgboost": cfg.ensemble.xgboost_params, "linear": {}}
    return [fit.remote(kind, data_ref, params[kind], cfg.seed, max(1, int(cpus))) for kind in kinds]


def collect_members(refs: list[ray.ObjectRef]) -> list[FittedMember]:
    return list(ray.get(refs))
