"""The whole run: config -> data -> split -> tune nets on Ray -> select on validation -> test once
-> ensemble. Restore-or-start: an existing experiment is resumed, finished stages are skipped."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from rayboost import __version__
from rayboost._env import default_storage
from rayboost._errors import ConfigError, DataError, ExperimentError
from rayboost._io import read_json, write_folder_atomic, write_json_atomic, write_text_atomic
from rayboost._layout import ExperimentPaths
from rayboost._lock import ExperimentLock
from rayboost._members import load_member, make_refitter, net_members, net_model
from rayboost._trust import make_private
from rayboost.config import (
    Config,
    check_grace_period,
    config_from_dict,
    config_to_dict,
    load_config,
)
from rayboost.data import Dataset, Scaler, Split, load_dataset, make_trial_data, split_dataset
from rayboost.ensemble import Member, Refitter, fit_ensemble, save_ensemble, save_member, score
from rayboost.models import metric_name
from rayboost.results import Experiment, best_trial, trial_params

if TYPE_CHECKING:
    from rayboost.tuning import SearchPlan

__all__ = ["STAGES", "resume", "reweight", "run"]

STAGES = ("tune", "ensemble")
# Keys a resumed experiment may change; any other difference is refused.
RESUMABLE_KEYS = (
    "search.num_samples",
    "search.time_budget_s",
    "search.checkpoint_every_s",
    "resources",
    "ray",
    "ensemble",
)


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


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and prefix.count(".") < 1 and key not in ("space", "grid"):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _check_resumable(old: Config, new: Config, paths: ExperimentPaths) -> None:
    before, after = _flat(config_to_dict(old)), _flat(config_to_dict(new))
    for key in sorted(set(before) | set(after)):
        # the experiment was found by its name in its storage: how the folder was spelt (relative,
        # ~, unset) does not change what it holds
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS) or key in ("name", "storage"):
            continue
        if before.get(key) != after.get(key):
            raise ConfigError(
                f"{key}: experiment {paths.name!r} ran with {before.get(key)!r}, not {after.get(key)!r}; "
                "resume with the same value or choose a new name with --set name=..."
            )
    if old.search.num_samples is not None and (new.search.num_samples or 0) < old.search.num_samples:
        raise ConfigError(
            f"search.num_samples: {paths.name!r} already planned {old.search.num_samples} trials; "
            "a resume may raise the budget, not lower it"
        )


def run(
    config: Config | str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    verbose: bool = True,
    resume: bool = False,
    stages: tuple[str, ...] = STAGES,
) -> Experiment:
    """Run the pipeline for ``config`` (a :class:`Config` or a YAML path) and return its results.

    ``resume=True`` is restore-or-start: an experiment of the same name continues where it
    stopped (finished stages skipped, interrupted trials restored from their checkpoints, a
    raised ``search.num_samples`` adds trials); otherwise an existing name is an error.
    ``stages`` runs part of the pipeline ("tune", "ensemble"); the ensemble needs a tuned
    experiment.
    """
    cfg = config if isinstance(config, Config) else load_config(config, overrides)
    started = time.time()
    unknown = [s for s in stages if s not in STAGES]
    if unknown or not stages:
        raise ConfigError(f"stages: {unknown or 'none given'}; use some of: {', '.join(STAGES)}")

    # Everything a user can get wrong is checked before anything is written or Ray starts.
    dataset = load_dataset(cfg.data)
    split = split_dataset(dataset, cfg.seed, cfg.data.val_fraction, cfg.data.test_fraction)
    family = _family(cfg, dataset)
    from rayboost import tuning  # imports Ray: only the scheduling step needs it

    cfg = _resolve_max_epochs(cfg, len(split.train))
    plan = tuning.plan_search(cfg.search, family, dataset.task, cfg.seed, timed=cfg.search.time_budget_s is not None)
    name = cfg.name or f"{dataset.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    cfg = dataclasses.replace(cfg, name=name)
    storage = Path(cfg.storage).expanduser() if cfg.storage else default_storage()
    if storage.exists() and not storage.is_dir():
        raise ConfigError(f"storage {storage} is a file, not a folder; set storage to a folder (it is created if missing)")
    if cfg.ensemble.enabled and cfg.ensemble.xgboost:
        from rayboost.models._xgboost import check_params

        check_params(cfg.ensemble.xgboost_params)
    paths = ExperimentPaths.of(storage, name)
    with ExperimentLock(paths.root, verbose):  # one driver per experiment from here on
        return _locked_run(cfg, dataset, split, family, plan, paths, storage, stages, started, verbose, resume)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``rayboost jobs stop``, a scheduler) stops the run as Ctrl-C does, so that its
    status says ``interrupted`` and Tune saves its state; only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _locked_run(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    family: str,
    plan: SearchPlan,
    paths: ExperimentPaths,
    storage: Path,
    stages: tuple[str, ...],
    started: float,
    verbose: bool,
    resume: bool,
) -> Experiment:
    from rayboost import tuning

    name = paths.name
    exists = paths.meta.exists()
    if exists and not resume:
        raise ExperimentError(
            f"experiment {name!r} already exists in {storage}; resume it with `rayboost resume {name}` "
            "or choose another name with --set name=..."
        )
    if exists:
        _check_resumable(config_from_dict(yaml.safe_load(paths.config.read_text())), cfg, paths)
        if Split.load(paths.split).fingerprint != split.fingerprint:
            raise DataError(f"the data of {name!r} changed since it ran; restore the original data or choose a new name")
    elif paths.root.exists():
        raise ExperimentError(f"{paths.root} exists but is not an experiment; choose another name with --set name=...")
    elif stages == ("ensemble",):
        raise ExperimentError(f"experiment {name!r} does not exist yet; run its tune stage first")

    started_ray = tuning.connect(cfg.ray)
    try:
        shape = tuning.cluster_shape()
        slots = tuning.check_resources(cfg.resources, shape)
        tuning.check_shared_storage(storage)
        budget_s = _time_budget_s(cfg, dataset, sum(shape.node_cpus))
        with _sigterm_interrupts():  # after ray.init, which sets a SIGTERM handler of its own
            return _run_experiment(cfg, dataset, split, family, plan, slots, paths, stages, started, verbose, budget_s)
    finally:
        if started_ray:
            tuning.disconnect()


def _resolve_max_epochs(cfg: Config, train_rows: int) -> Config:
    """``search.max_epochs: auto`` replaced by the epochs it gives for ``train_rows`` (see
    :func:`rayboost.tuning.auto_max_epochs`); the stored config records the number."""
    if cfg.search.max_epochs != "auto":
        return cfg
    from rayboost import tuning

    search = dataclasses.replace(cfg.search, max_epochs=tuning.auto_max_epochs(train_rows))
    check_grace_period(search, f", from auto for {train_rows} training rows")
    return dataclasses.replace(cfg, search=search)


def _time_budget_s(cfg: Config, dataset: Dataset, cpus: float) -> float | None:
    """The run's time budget in seconds: ``search.time_budget_s``, sized for the data when
    ``auto`` (see :func:`rayboost.tuning.auto_time_budget_s`), or None."""
    from rayboost import tuning

    budget = cfg.search.time_budget_s
    if budget == "auto":
        features = int(np.prod(dataset.input_shape))
        return tuning.auto_time_budget_s(len(dataset.y), features, cpus)
    return None if budget is None else float(budget)


ENSEMBLE_RESERVE = (0.05, 30.0)
"""Of the time budget, the ensemble stage keeps this fraction, at most this many seconds."""
REFIT_SHARE = 0.15
"""Of the time budget, ``ensemble.refit`` keeps this fraction for the refits, on top."""
XGBOOST_SHARE = 0.1
"""Of the cluster's time in the budget (budget × trial slots), XGBoost's search
(``ensemble.xgboost_trials``) may use this fraction, beside the nets; its first configuration,
XGBoost's defaults, always trains to its early stop."""


def _tune_deadline(cfg: Config, started: float, budget_s: float | None, want_members: bool) -> float | None:
    """When the net search ends: the ensemble stage, refits included, is part of the budget."""
    if budget_s is None:
        return None
    fraction, most = ENSEMBLE_RESERVE
    refits = REFIT_SHARE * budget_s if want_members and cfg.ensemble.refit else 0.0
    return started + budget_s - min(fraction * budget_s, most) - refits


def resume(name: str, storage: str | Path | None = None, overrides: list[str] | None = None, verbose: bool = True) -> Experiment:
    """Continue experiment ``name`` with its stored config (``overrides`` may raise the budget)."""
    from rayboost.results import load

    experiment = load(name, storage)
    raw = yaml.safe_load(experiment.paths.config.read_text())
    raw["storage"] = str(experiment.paths.root.parent)
    cfg = load_config(None, overrides, base=raw)
    return run(cfg, verbose=verbose, resume=True)


def _write_meta(paths: ExperimentPaths, meta: dict[str, Any], **changes: Any) -> dict[str, Any]:
    meta = {**meta, **changes}
    write_json_atomic(paths.meta, meta)
    return meta


def _run_experiment(
    cfg: Config,
    dataset: Dataset,
    split: Split,
    family: str,
    plan: SearchPlan,
    slots: int,
    paths: ExperimentPaths,
    stages: tuple[str, ...],
    started: float,
    verbose: bool,
    budget_s: float | None = None,
) -> Experiment:
    from rayboost import tuning

    metric = metric_name(dataset.task)
    mode = "max" if metric == "accuracy" else "min"
    if paths.meta.exists():
        meta = read_json(paths.meta)
        scaler = Scaler.from_dict(read_json(paths.scaler))
        tuned = meta.get("tuned_samples")  # None: it ran as many trials as its time budget allowed
        if cfg.search.num_samples is not None and (tuned is None or cfg.search.num_samples > tuned):
            # a raised budget reopens tuning, then the ensemble
            meta["stages"] = {s: False for s in STAGES}
        if verbose:
            done = [s for s, ok in meta.get("stages", {}).items() if ok]
            print(f"rayboost: resuming {paths.name} (stages done: {', '.join(done) or 'none'})", flush=True)
    else:
        scaler = Scaler.fit(dataset.X[split.train])
        meta = {
            "name": paths.name, "status": "running", "created_at": _now(), "rayboost_version": __version__,
            "dataset": dataset.name, "task": dataset.task, "family": family, "metric": metric, "mode": mode,
            "classes": dataset.classes, "label": dataset.label, "input_shape": list(dataset.input_shape),
            "feature_names": dataset.feature_names, "stages": {s: False for s in STAGES},
        }  # fmt: skip
        config_text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False)

        def create(folder: Path) -> None:  # built whole, then renamed into place
            make_private(folder)
            here = ExperimentPaths(folder)
            write_json_atomic(here.meta, meta)
            split.save(here.split)
            write_json_atomic(here.scaler, scaler.to_dict())
            write_text_atomic(here.config, config_text)

        write_folder_atomic(paths.root, create)
    write_text_atomic(paths.config, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    meta = _write_meta(paths, meta, status="running", error=None)
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
        want_members = cfg.ensemble.enabled and "ensemble" in stages and not meta["stages"]["ensemble"]
        kinds = [k for k in ("xgboost", "linear") if getattr(cfg.ensemble, k)] if want_members else []
        missing = [k for k in kinds if not (paths.member_dir(k) / "val_pred.npy").exists()]
        # XGBoost (its search within its share of the cluster's time) and linear beside the trials
        wide_s = None if budget_s is None else XGBOOST_SHARE * budget_s * slots
        member_refs = tuning.start_members(cfg, data_ref, missing, seconds=wide_s, until=_tune_deadline(cfg, started, budget_s, want_members))
        if "tune" in stages and not meta["stages"]["tune"]:
            deadline = _tune_deadline(cfg, started, budget_s, want_members)
            outcome = tuning.tune_nets(
                cfg, plan, data_ref, family, metric, mode, slots, paths, verbose=verbose, deadline=deadline
            )
            stages_done = {**meta["stages"], "tune": True}
            meta = _write_meta(
                paths, meta, stages=stages_done, tuned_samples=cfg.search.num_samples, tune_trial_ids=outcome.all_ids
            )
        if not meta["stages"]["tune"]:
            raise ExperimentError(f"experiment {paths.name!r} has not finished its tune stage; run that stage first")
        for fitted in tuning.collect_members(member_refs):
            save_member(paths.member_dir(fitted.kind), fitted.model, fitted.val_pred)
            if fitted.search is not None:
                write_json_atomic(paths.xgboost_trials, fitted.search)
        experiment = Experiment(paths)
        summary = _select_and_test(experiment, cfg, dataset, split, scaler, family)
        summary["time_budget_s"] = budget_s
        summary["asha_rungs"] = list(tuning.asha_rungs(cfg)) if cfg.search.scheduler == "asha" else []
        if want_members:
            extra = [load_member(paths, kind, kind) for kind in kinds]
            members = net_members(experiment, cfg.ensemble.top_k, dataset, split, family) + extra
            refitter = None
            if cfg.ensemble.refit:
                end = None if budget_s is None else started + budget_s
                refitter = make_refitter(experiment, cfg, data_ref, len(split.val) / len(split.train), slots, end)
            summary["ensemble"] = _ensemble(experiment, members, dataset, split, scaler, cfg, refit=refitter)
        elif paths.summary.exists():
            summary["ensemble"] = read_json(paths.summary).get("ensemble")
        summary["duration_s"] = time.time() - started
        write_json_atomic(paths.summary, summary)
        if want_members:  # done once its summary is written
            meta = _write_meta(paths, meta, stages={**meta["stages"], "ensemble": True})
        finished = meta["stages"]["tune"] and (meta["stages"]["ensemble"] or not cfg.ensemble.enabled)
        _write_meta(paths, meta, status="completed" if finished else "partial", finished_at=_now())
        return experiment
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _write_meta(paths, meta, status=reason, error=error)
        raise


def _ensemble(
    experiment: Experiment,
    members: list[Member],
    dataset: Dataset,
    split: Split,
    scaler: Scaler,
    cfg: Config,
    method: str | None = None,
    weights: dict[str, float] | None = None,
    calibrate: bool | None = None,
    refit: Refitter | None = None,
) -> dict[str, Any]:
    """Weights on validation predictions, then (with ``refit``) the members trained again on
    train + validation, then every member and the ensemble scored on test."""
    fit = fit_ensemble(
        members,
        dataset.y[split.val],
        scaler.transform(dataset.X[split.test]),
        dataset.y[split.test],
        task=dataset.task,
        method=method or cfg.ensemble.method,
        weights=weights if weights is not None else cfg.ensemble.weights,
        seed=cfg.seed,
        calibrate=cfg.ensemble.calibrate if calibrate is None else calibrate,
        refit=refit,
    )
    save_ensemble(experiment.paths, members, fit, dataset.task, dataset.classes)
    return fit.summary


def reweight(
    name: str,
    storage: str | Path | None = None,
    method: str | None = None,
    weights: dict[str, float] | None = None,
    calibrate: bool | None = None,
    refit: bool | None = None,
) -> Experiment:
    """Fit an existing experiment's ensemble again with another method or user weights, with or
    without calibrated members, with or without members refit on train + validation rows
    (default: the experiment's config).

    No trial is retrained: members and their validation predictions are read from storage; a
    member that now carries weight and has no refit yet is refit here, in this process. The
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
    with ExperimentLock(experiment.paths.root, verbose=False):  # not while a driver writes it
        return _reweight(experiment, cfg, dataset, split, method, weights, calibrate, refit)


def _reweight(
    experiment: Experiment,
    cfg: Config,
    dataset: Dataset,
    split: Split,
    method: str | None,
    weights: dict[str, float] | None,
    calibrate: bool | None,
    refit: bool | None,
) -> Experiment:
    scaler = Scaler.from_dict(read_json(experiment.paths.scaler))
    record = read_json(experiment.paths.ensemble)
    members = [load_member(experiment.paths, e["member"], e["kind"], e["trial_id"]) for e in record["members"]]
    summary = read_json(experiment.paths.summary)
    refitter = None
    if cfg.ensemble.refit if refit is None else refit:
        data = make_trial_data(dataset, split, scaler)
        refitter = make_refitter(experiment, cfg, data, len(split.val) / len(split.train), 1, None)
    summary["ensemble"] = _ensemble(
        experiment, members, dataset, split, scaler, cfg, method, weights, calibrate, refitter
    )
    write_json_atomic(experiment.paths.summary, summary)
    return experiment


def _select_and_test(
    experiment: Experiment, cfg: Config, dataset: Dataset, split: Split, scaler: Scaler, family: str
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
        "n_trials": int((trials["status"] != "abandoned").sum()),
        "n_errors": int((trials["status"] == "error").sum()),
        "best_trial_id": None,
        "best_params": None,
        f"best_val_{metric}": None,
        "best_epoch": None,
        "test": None,
    }
    if best is None or not experiment.paths.trial_model(best["trial_id"]).exists():
        return summary
    model = net_model(experiment, trials, best["trial_id"], dataset, split, family)
    pred = model.predict_output(scaler.transform(dataset.X[split.test]))
    summary.update(
        best_trial_id=best["trial_id"],
        best_params=trial_params(best),
        best_epoch=int(best["best_epoch"]),
        test=score(pred, dataset.y[split.test], task=dataset.task),
        test_scored_at=_now(),
    )
    summary[f"best_val_{metric}"] = float(best[f"best_val_{metric}"])
    return summary
