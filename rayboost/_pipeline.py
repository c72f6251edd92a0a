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
from rayboost._errors import ConfigError, DataError, ExperimentError
from rayboost._io import read_json, write_json_atomic, write_text_atomic
from rayboost._layout import ExperimentPaths
from rayboost.config import Config, config_from_dict, config_to_dict, load_config
from rayboost.data import Dataset, Scaler, Split, load_dataset, make_trial_data, split_dataset
from rayboost.ensemble import Member, fit_ensemble, save_ensemble, score
from rayboost.models import (
    MEMBER_KINDS,
    NetModel,
    build_net,
    metric_name,
    predict_output,
    target_scaling,
)
from rayboost.results import Experiment, best_trial, leaderboard, trial_params

if TYPE_CHECKING:
    from rayboost.tuning import SearchPlan

__all__ = ["reweight", "run"]


def _family(cfg: Config, dataset: Dataset) -> str:
    if cfg.model.family == "auto":
        return "cnn" if dataset.is_image else "mlp"
    if cfg.model.family == "cnn" and not dataset.is_image:
        raise ConfigError(
            "model.family=cnn needs image-shaped data; set data.image_shape (e.g. 1,28,28) or model.family=mlp"
        )
    return cfg.model.family


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
        "feature_names": dataset.feature_names,
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
        data_ref = tuning.share(data)
        member_refs = tuning.start_members(cfg, data_ref)  # XGBoost/linear run beside the trials
        outcome = tuning.tune_nets(cfg, plan, data_ref, family, metric, mode, slots, paths, verbose=verbose)
        fitted = tuning.collect_members(member_refs)
        experiment = Experiment(paths)
        summary = _finish(experiment, cfg, dataset, split, scaler, family, outcome.errors)
        if cfg.ensemble.enabled:
            extra = [Member(f.kind, f.kind, f.model, f.val_pred) for f in fitted]
            members = _net_members(experiment, cfg.ensemble.top_k, dataset, split, family) + extra
            summary["ensemble"] = _ensemble(experiment, members, dataset, split, scaler, cfg)
        summary["duration_s"] = time.time() - started
        write_json_atomic(paths.summary, summary)
        write_json_atomic(paths.meta, {**meta, "status": "completed", "finished_at": _now()})
        return experiment
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        write_json_atomic(paths.meta, {**meta, "status": reason, "error": error})
        raise


def _net_members(experiment: Experiment, top_k: int, dataset: Dataset, split: Split, family: str) -> list[Member]:
    """The nets of the ``top_k`` best distinct trials, by validation metric at their best epoch."""
    trials = experiment.trials()
    board = leaderboard(trials, experiment.metric, experiment.mode, n=len(trials))
    y_mean, y_std = target_scaling(dataset.task, dataset.y[split.train])
    members = []
    for trial_id in board["trial_id"]:
        if len(members) == top_k:
            break
        if not experiment.paths.trial_model(trial_id).exists():
            continue
        params = trial_params(trials[trials["trial_id"] == trial_id].iloc[0])
        state = torch.load(experiment.paths.trial_model(trial_id), weights_only=True)
        model = NetModel(family, params, dataset.input_shape, dataset.n_outputs, dataset.task, y_mean, y_std, state)
        val_pred = np.load(experiment.paths.trial_val_pred(trial_id))
        members.append(Member(f"net_{len(members) + 1}", "net", model, val_pred, trial_id))
    return members


def _ensemble(
    experiment: Experiment,
    members: list[Member],
    dataset: Dataset,
    split: Split,
    scaler: Scaler,
    cfg: Config,
    method: str | None = None,
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Weights on validation predictions, then every member and the ensemble scored on test."""
    method = method or cfg.ensemble.method
    fit = fit_ensemble(
        members,
        dataset.y[split.val],
        scaler.transform(dataset.X[split.test]),
        dataset.y[split.test],
        task=dataset.task,
        method=method,
        weights=weights if weights is not None else cfg.ensemble.weights,
        seed=cfg.seed,
    )
    save_ensemble(experiment.paths, members, fit, dataset.task, dataset.classes)
    return fit.summary


def reweight(
    name: str,
    storage: str | Path | None = None,
    method: str = "greedy",
    weights: dict[str, float] | None = None,
) -> Experiment:
    """Fit an existing experiment's ensemble again with another method or user weights.

    Nothing is retrained: members and their validation predictions are read from storage. The
    previous ensemble is kept in ``ensemble/history/``.
    """
    from rayboost.results import load

    experiment = load(name, storage)
    if not experiment.paths.ensemble.exists():
        raise ExperimentError(f"experiment {name!r} has no ensemble to re-weight (it is still running or had none)")
    cfg = config_from_dict(experiment.config)
    dataset = load_dataset(cfg.data)
    split = Split.load(experiment.paths.split)
    if dataset.fingerprint() != split.fingerprint:
        raise DataError(
            f"the data at {cfg.data.path or cfg.data.dataset} changed since {name!r} ran "
            f"(fingerprint {dataset.fingerprint()} != {split.fingerprint}); restore the original file"
        )
    scaler = Scaler.from_dict(read_json(experiment.paths.scaler))
    record = read_json(experiment.paths.ensemble)
    members = []
    for entry in record["members"]:
        folder = experiment.paths.member_dir(entry["member"])
        model = MEMBER_KINDS[entry["kind"]].load(folder)
        members.append(Member(entry["member"], entry["kind"], model, np.load(folder / "val_pred.npy"), entry["trial_id"]))
    summary = read_json(experiment.paths.summary)
    summary["ensemble"] = _ensemble(experiment, members, dataset, split, scaler, cfg, method, weights or {})
    write_json_atomic(experiment.paths.summary, summary)
    return experiment


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
    params = trial_params(best)
    model = build_net(family, params, dataset.input_shape, dataset.n_outputs)
    model.load_state_dict(torch.load(experiment.paths.trial_model(best["trial_id"]), weights_only=True))
    y_mean, y_std = target_scaling(dataset.task, dataset.y[split.train])
    pred = predict_output(model, scaler.transform(dataset.X[split.test]), dataset.task, y_mean, y_std)
    summary.update(
        best_trial_id=best["trial_id"],
        best_params=params,
        best_epoch=int(best["best_epoch"]),
        test=score(pred, dataset.y[split.test], task=dataset.task),
        test_scored_at=_now(),
    )
    summary[f"best_val_{metric}"] = float(best[f"best_val_{metric}"])
    return summary
