"""Run the net search on Ray Tune and collect each trial's best-epoch artifacts."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from rayboost._layout import ExperimentPaths
from rayboost.config import Config
from rayboost.data import TrialData
from rayboost.tuning._callbacks import ProgressCallback, RecordCallback
from rayboost.tuning._space import SearchPlan
from rayboost.tuning._trainable import CHECKPOINT_FILE, train_trial

__all__ = ["TuneOutcome", "share", "tune_nets"]

@dataclass
class TuneOutcome:
    n_trials: int
    trial_ids: list[str]
    errors: int


def _export_best(checkpoint_dir: Path, paths: ExperimentPaths, trial_id: str) -> bool:
    """Copy a trial's best-epoch weights and validation predictions out of its last checkpoint."""
    state = torch.load(checkpoint_dir / CHECKPOINT_FILE, weights_only=True)
    best = state["best"]
    if best["state"] is None:
        return False
    paths.trial_dir(trial_id).mkdir(parents=True, exist_ok=True)
    torch.save(best["state"], paths.trial_model(trial_id))
    np.save(paths.trial_val_pred(trial_id), best["val_pred"].numpy())
    return True


def _quiet_tune() -> None:
    """Our records replace Tune's file loggers; keep Tune from warning about their absence."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no configuration box: we print progress
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


def share(obj: Any) -> ray.ObjectRef:
    """Put ``obj`` in the object store once; trials and member tasks read the same copy."""
    return ray.put(obj)


def tune_nets(
    cfg: Config,
    plan: SearchPlan,
    data: TrialData | ray.ObjectRef,
    family: str,
    metric: str,
    mode: str,
    slots: int,
    paths: ExperimentPaths,
    verbose: bool = True,
) -> TuneOutcome:
    """Search nets of ``family`` on ``data`` (train/val only) with at most ``slots`` trials at once.
    ``data`` may be an object-store reference (see :func:`share`).

    Ray must already be connected and the resource request checked (:func:`check_resources`).
    """
    concurrency = min(cfg.search.max_concurrent_trials or slots, plan.n_trials)
    if cfg.search.scheduler == "asha":
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=cfg.search.max_epochs,
            grace_period=cfg.search.grace_period,
            reduction_factor=cfg.search.reduction_factor,
        )
    else:
        scheduler = FIFOScheduler()
    trainable = tune.with_parameters(
        train_trial,
        data=data,
        family=family,
        seed=cfg.seed,
        max_epochs=cfg.search.max_epochs,
        cpus=cfg.resources.cpus_per_trial,
    )
    resources = {"cpu": cfg.resources.cpus_per_trial, "gpu": cfg.resources.gpus_per_trial}
    callbacks: list[tune.Callback] = [RecordCallback(paths)]
    if verbose:
        callbacks.append(ProgressCallback(f"val_{metric}", mode, plan.n_trials))
    _quiet_tune()
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            metric=f"val_{metric}",
            mode=mode,
            search_alg=plan.search_alg,
            scheduler=scheduler,
            num_samples=plan.num_samples,
            max_concurrent_trials=concurrency,
            time_budget_s=cfg.search.time_budget_s,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=paths.tune_dir.name,
            storage_path=str(paths.root),
            callbacks=callbacks,
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    results = tuner.fit()
    trial_ids, errors = [], 0
    for result in results:
        if result.error is not None:
            errors += 1
        if result.checkpoint is None:
            continue  # failed before its first epoch
        trial_id = result.metrics["trial_id"]
        with result.checkpoint.as_directory() as folder:
            if _export_best(Path(folder), paths, trial_id):
                trial_ids.append(trial_id)
    return TuneOutcome(n_trials=len(results), trial_ids=trial_ids, errors=errors)
