"""The whole run: config -> data -> split -> tune nets on Ray -> select on validation -> test once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import yaml

from rayboost import __version__
from rayboost._env import default_storage
from rayboost._errors import ConfigError, ExperimentError
from rayboost._io import write_json_atomic, write_text_atomic
from rayboost._layout import ExperimentPaths
from rayboost.config import Config, config_to_dict, load_config
from rayboost.data import Dataset, Scaler, Split, load_dataset, make_trial_data, split_dataset
from rayboost.models import build_net, metric_name, predict_output, target_scaling
from rayboost.results import Experiment, best_trial

if TYPE_CHECKING:
    from rayboost.tuning import SearchPlan

__all__ = ["run", "score"]


def _family(cfg: Config, dataset: Dataset) -> str:
    if cfg.model.family == "auto":
        return "cnn" if dataset.is_image else "mlp"
    if cfg.model.family == "cnn" and not dataset.is_image:
        raise ConfigError(
            "model.family=cnn needs image-shaped data; set data.image_shape (e.g. 1,28,28) or model.family=mlp"
        )
    return cfg.model.family


def score(task: str, pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy and log loss for classification; RMSE for regression."""
    if task == "classification":
        p = np.clip(pred[np.arange(len(y)), y], 1e-15, 1.0)
        return {"accuracy": float((pred.argmax(1) == y).mean()), "log_loss": float(-np.log(p).mean())}
    return {"rmse": float(np.sqrt(np.mean((pred[:, 0] - y) ** 2)))}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run(
    config: Config | str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    verbose: bool = True,
) -> Experiment:
    """Run the pipeline for ``config`` (a :class:`Config` or a YAML path) and return its results."""
    cfg = config if isinstance(config, Config) else load_config(config, overrides)
    started = time.time()

    # Everything a user can get wrong is checked before anything is written or Ray starts.
    dataset = load_dataset(cfg.data)
    split = split_dataset(dataset, cfg.seed, cfg.data.val_fraction, cfg.data.test_fraction)
    family = _family(cfg, dataset)
    from rayboost import tuning  # imports Ray: only the scheduling step needs it

    plan = tuning.plan_search(cfg.search, family, dataset.task, cfg.seed)
    name = cfg.name or f"{dataset.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    storage = Path(cfg.storage).expanduser() if cfg.storage else default_storage()
    paths = ExperimentPaths.of(storage, name)
    if paths.root.exists():
        raise ExperimentError(f"experiment {name!r} already exists in {storage}; choose another name with --set name=...")

    started_ray = tuning.connect(cfg.ray)
    try:
        slots = tuning.check_resources(cfg.resources, tuning.cluster_shape())
        return _run_experiment(cfg, dataset, split, family, plan, slots, paths, started, verbose)
    finally:
        if started_ray:
            tuning.disconnect()


def _run_experiment(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    family: str,
    plan: SearchPlan,
    slots: int,
    paths: ExperimentPaths,
    started: float,
    verbose: bool,
) -> Experiment:
    from rayboost import tuning

    metric = metric_name(dataset.task)
    mode = "max" if metric == "accuracy" else "min"
    scaler = Scaler.fit(dataset.X[split.train])
    paths.root.mkdir(parents=True)
    meta = {
        "name": paths.name, "status": "running", "created_at": _now(), "rayboost_version": __version__,
        "dataset": dataset.name, "task": dataset.task, "family": family, "metric": metric, "mode": mode,
        "classes": dataset.classes, "label": dataset.label, "input_shape": list(dataset.input_shape),
    }  # fmt: skip
    write_json_atomic(paths.meta, meta)
    write_text_atomic(paths.config, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    split.save(paths.split)
    write_json_atomic(paths.scaler, scaler.to_dict())
    try:
        data = make_trial_data(dataset, split, scaler)
        if verbose:
            print(f"rayboost: experiment {paths.name} in {paths.root.parent}", flush=True)
            print(
                f"rayboost: {dataset.name} ({dataset.task}, {len(dataset.y)} rows, split {split.sizes()}), "
                f"{family} nets, {cfg.search.algorithm} search + {cfg.search.scheduler}, {plan.n_trials} trials",
                flush=True,
            )
        outcome = tuning.tune_nets(cfg, plan, data, family, metric, mode, slots, paths, verbose=verbose)
        experiment = Experiment(paths)
        summary = _finish(experiment, cfg, dataset, split, scaler, family, outcome.errors)
        summary["duration_s"] = time.time() - started
        write_json_atomic(paths.summary, summary)
        write_json_atomic(paths.meta, {**meta, "status": "completed", "finished_at": _now()})
        return experiment
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        write_json_atomic(paths.meta, {**meta, "status": reason, "error": error})
        raise


def _finish(
    experiment: Experiment, cfg: Config, dataset: Dataset, split: Split, scaler: Scaler, family: str, errors: int
) -> dict[str, Any]:
    """Select the best trial on validation, then score it on the test split: once, at the end."""
    metric, mode = experiment.metric, experiment.mode
    trials = experiment.trials()
    best = best_trial(trials, metric, mode)
    summary: dict[str, Any] = {
        "name": experiment.name,
        "status": "completed",
        "config": config_to_dict(cfg),
        "dataset": dataset.name,
        "task": dataset.task,
        "family": family,
        "metric": metric,
        "mode": mode,
        "split_sizes": split.sizes(),
        "split_fingerprint": split.fingerprint,
        "n_trials": len(trials),
        "n_errors": errors,
        "best_trial_id": None,
        "best_params": None,
        f"best_val_{metric}": None,
        "best_epoch": None,
        "test": None,
    }
    if best is None or not experiment.paths.trial_model(best["trial_id"]).exists():
        return summary
    params = {c[len("param_"):]: v for c, v in best.items() if c.startswith("param_")}
    model = build_net(family, params, dataset.input_shape, dataset.n_outputs)
    model.load_state_dict(torch.load(experiment.paths.trial_model(best["trial_id"]), weights_only=True))
    y_mean, y_std = target_scaling(dataset.task, dataset.y[split.train])
    pred = predict_output(model, scaler.transform(dataset.X[split.test]), dataset.task, y_mean, y_std)
    summary.update(
        best_trial_id=best["trial_id"],
        best_params=params,
        best_epoch=int(best["best_epoch"]),
        test=score(dataset.task, pred, dataset.y[split.test]),
        test_scored_at=_now(),
    )
    summary[f"best_val_{metric}"] = float(best[f"best_val_{metric}"])
    return summary
