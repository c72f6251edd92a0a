"""Members trained again on train + validation rows as Ray tasks, once their temperatures,
weights and epochs / boosting rounds are fixed on validation (``ensemble.refit``)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ray

from rayboost.data import TrialData

__all__ = ["RefitJob", "RefitResult", "choose_refits", "rows_digest", "run_refits"]


@dataclass
class RefitJob:
    name: str  # the member: net_1, xgboost, linear, ...
    kind: str  # net | xgboost | linear
    model: Any  # the member as fit on the train rows (XGBoostModel / LinearModel / NetModel)
    estimate_s: float  # expected refit time on one slot, from the member's own training time
    seed: int = 0
    epochs: int = 0  # nets: the trial's best epoch ...
    schedule_epochs: int = 0  # ... of a schedule spanning the trial's epoch budget


@dataclass
class RefitResult:
    name: str
    model: Any | None  # None: the net's training diverged; the member keeps its first fit
    record: dict[str, Any] = field(default_factory=dict)  # rows, their digest, epochs/rounds, time


def rows_digest(rows: np.ndarray) -> str:
    """SHA-256 of the sorted dataset row indices: which rows a model was trained on."""
    return hashlib.sha256(np.sort(np.asarray(rows, dtype=np.int64)).tobytes()).hexdigest()


def choose_refits(
    jobs: list[RefitJob], weights: dict[str, float], slots: int, seconds: float | None
) -> list[RefitJob]:
    """The jobs to run, heaviest member first, while their estimated time fits in ``seconds``
    (None: no time budget, every job): each job on its own, and all of them spread over
    ``slots`` parallel slots."""
    ordered = sorted(jobs, key=lambda j: -weights.get(j.name, 0.0))
    if seconds is None:
        return ordered
    chosen, total = [], 0.0
    for job in ordered:
        if job.estimate_s <= seconds and (total + job.estimate_s) / max(slots, 1) <= seconds:
            chosen.append(job)
            total += job.estimate_s
    return chosen


def _refit(job: RefitJob, data: TrialData, threads: int) -> RefitResult:
    start = time.perf_counter()
    X = np.concatenate([data.X_train, data.X_val])
    y = np.concatenate([data.y_train, data.y_val])
    rows = np.concatenate([data.train_rows, data.val_rows])
    if job.kind == "net":
        import torch

        from rayboost.models import refit_net

        torch.set_num_threads(threads)
        on_gpu = ray.is_initialized() and torch.cuda.is_available() and bool(ray.get_gpu_ids())
        net = job.model
        model = refit_net(
            net.family,
            net.params,
            X,
            y,
            data.task,
            data.n_outputs,
            seed=job.seed,
            epochs=job.epochs,
            schedule_epochs=job.schedule_epochs,
            device="cuda" if on_gpu else "cpu",
            layout=net.layout,
        )
        trained: dict[str, Any] = {"epochs": job.epochs, "schedule_epochs": job.schedule_epochs}
    else:
        model = job.model.refit(X, y)
        trained = {"rounds": model.summary_["refit_rounds"]} if job.kind == "xgboost" else {}
    record = {
        "rows": len(rows),
        "rows_sha256": rows_digest(rows),
        **trained,
        "estimate_s": job.estimate_s,
        "duration_s": time.perf_counter() - start,
    }
    return RefitResult(job.name, model, record)


def run_refits(
    jobs: list[RefitJob], data: TrialData | ray.ObjectRef, cpus: float, gpus: float = 0.0
) -> list[RefitResult]:
    """One Ray task per job (``cpus`` each; a net also ``gpus``, as its trial had) on the shared
    train + validation data; in this process when Ray is not running (re-weighting a stored
    experiment)."""
    threads = max(1, int(cpus))
    if not jobs:
        return []
    if ray.is_initialized():
        task = ray.remote(_refit)
        refs = [
            task.options(
                num_cpus=cpus, num_gpus=gpus if job.kind == "net" else 0, max_retries=2
            ).remote(job, data, threads)
            for job in jobs
        ]
        return list(ray.get(refs))
    local = ray.get(data) if isinstance(data, ray.ObjectRef) else data
    return [_refit(job, local, threads) for job in jobs]
