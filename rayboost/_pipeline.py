"""The whole run: config -> data -> split -> tune nets on Ray -> select on validation -> test once
-> ensemble. Restore-or-start: an existing experiment is resumed, finished stages are skipped."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rayboost._env import default_storage
from rayboost._errors import ConfigError, ExperimentError
from rayboost._io import full_storage_is_an_error, read_json, storage_full, write_json_atomic
from rayboost._layout import ExperimentPaths
from rayboost._lock import ExperimentLock
from rayboost._members import load_member, make_refitter, net_members
from rayboost._meta import STAGES, now
from rayboost._stages.create import RESUMABLE_KEYS, check_open, open_experiment
from rayboost._stages.ensemble import ensemble_stage, reweight
from rayboost._stages.select import select_and_test
from rayboost._stages.tune import tune_stage
from rayboost.config import Config, check_grace_period, load_config, read_stored_config
from rayboost.data import (
    Dataset,
    Split,
    encode_table,
    load_dataset,
    make_trial_data,
    split_dataset,
)
from rayboost.ensemble import save_member
from rayboost.results import Experiment

if TYPE_CHECKING:
    from rayboost.tuning import SearchPlan

__all__ = ["RESUMABLE_KEYS", "STAGES", "resume", "reweight", "run"]


def _family(cfg: Config, dataset: Dataset) -> str:
    categorical = dataset.encoder is not None and bool(dataset.encoder.layout()["categorical"])
    if cfg.model.family == "auto":
        return "cnn" if dataset.is_image else "wide_deep" if categorical else "mlp"
    if cfg.model.family == "cnn" and not dataset.is_image:
        raise ConfigError(
            "model.family=cnn needs image-shaped data; set data.image_shape (e.g. 1,28,28) or model.family=mlp"
        )
    if cfg.model.family == "wide_deep" and dataset.is_image:
        raise ConfigError("model.family=wide_deep is for tables; use cnn for image-shaped data")
    return cfg.model.family


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
    dataset = encode_table(dataset, split.train, cfg.data)  # text, dates, gaps: train rows only
    if verbose and dataset.encoder is not None:
        _print_typing(dataset)
    family = _family(cfg, dataset)
    from rayboost import tuning  # imports Ray: only the scheduling step needs it

    cfg = _resolve_max_epochs(cfg, len(split.train))
    plan = tuning.plan_search(
        cfg.search, family, dataset.task, cfg.seed, timed=cfg.search.time_budget_s is not None
    )
    name = cfg.name or f"{dataset.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    cfg = dataclasses.replace(cfg, name=name)
    storage = Path(cfg.storage).expanduser() if cfg.storage else default_storage()
    if storage.exists() and not storage.is_dir():
        raise ConfigError(
            f"storage {storage} is a file, not a folder; set storage to a folder (it is created if missing)"
        )
    if cfg.ensemble.enabled and cfg.ensemble.xgboost:
        from rayboost.models._xgboost import check_params

        check_params(cfg.ensemble.xgboost_params)
    paths = ExperimentPaths.of(storage, name)

    def again() -> str:  # a creation that failed left no folder
        if paths.root.exists():
            return f"`rayboost resume {name} --storage {storage}` continues experiment {name!r}"
        return f"run the same command again (experiment {name!r} was not created)"

    with full_storage_is_an_error(storage, again), ExperimentLock(paths.root, verbose):
        return _locked_run(  # one driver per experiment from here on
            cfg, dataset, split, family, plan, paths, storage, stages, started, verbose, resume
        )


def _print_typing(dataset: Dataset) -> None:
    encoder = dataset.encoder
    assert encoder is not None
    kinds: dict[str, list[str]] = {}
    for col in encoder.columns:
        kinds.setdefault(col["kind"], []).append(col["name"])
    shown = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())
    print(f"rayboost: columns {shown} ({dataset.X.shape[1]} encoded features)", flush=True)
    for name, why in encoder.dropped.items():
        print(f"rayboost: column {name!r} left out ({why})", flush=True)


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

    check_open(paths, cfg, split, resume, stages)

    started_ray = tuning.connect(cfg.ray)
    try:
        shape = tuning.cluster_shape()
        slots = tuning.check_resources(cfg.resources, shape)
        tuning.check_shared_storage(storage)
        budget_s = _time_budget_s(cfg, dataset, sum(shape.node_cpus))
        with _sigterm_interrupts():  # after ray.init, which sets a SIGTERM handler of its own
            return _run_experiment(
                cfg, dataset, split, family, plan, slots, paths, stages, started, verbose, budget_s
            )
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
        # a mixed table counts its columns, not their encoding: one-hot columns add width, not data
        encoder = dataset.encoder
        features = len(encoder.columns) if encoder else int(np.prod(dataset.input_shape))
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


def _tune_deadline(
    cfg: Config, started: float, budget_s: float | None, want_members: bool
) -> float | None:
    """When the net search ends: the ensemble stage, refits included, is part of the budget."""
    if budget_s is None:
        return None
    fraction, most = ENSEMBLE_RESERVE
    refits = REFIT_SHARE * budget_s if want_members and cfg.ensemble.refit else 0.0
    return started + budget_s - min(fraction * budget_s, most) - refits


def resume(
    name: str,
    storage: str | Path | None = None,
    overrides: list[str] | None = None,
    verbose: bool = True,
) -> Experiment:
    """Continue experiment ``name`` with its stored config (``overrides`` may raise the budget)."""
    from rayboost.results import load

    experiment = load(name, storage)
    raw = read_stored_config(experiment.paths.config)
    raw["storage"] = str(experiment.paths.root.parent)
    cfg = load_config(None, overrides, base=raw)
    return run(cfg, verbose=verbose, resume=True)


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

    meta, scaler = open_experiment(paths, cfg, dataset, split, family, verbose)
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
        want_members = cfg.ensemble.enabled and "ensemble" in stages and not meta.done("ensemble")
        kinds = (
            [k for k in ("xgboost", "linear") if getattr(cfg.ensemble, k)] if want_members else []
        )
        missing = [k for k in kinds if not (paths.member_dir(k) / "val_pred.npy").exists()]
        # XGBoost (its search within its share of the cluster's time) and linear beside the trials
        deadline = _tune_deadline(cfg, started, budget_s, want_members)
        wide_s = None if budget_s is None else XGBOOST_SHARE * budget_s * slots
        member_refs = tuning.start_members(cfg, data_ref, missing, seconds=wide_s, until=deadline)
        if "tune" in stages and not meta.done("tune"):
            meta = tune_stage(cfg, plan, data_ref, meta, slots, paths, deadline, verbose)
        if not meta.done("tune"):
            raise ExperimentError(
                f"experiment {paths.name!r} has not finished its tune stage; run that stage first"
            )
        for fitted in tuning.collect_members(member_refs):
            save_member(paths.member_dir(fitted.kind), fitted.model, fitted.val_pred)
            if fitted.search is not None:
                write_json_atomic(paths.xgboost_trials, fitted.search)
        experiment = Experiment(paths)
        summary = select_and_test(experiment, cfg, dataset, split, scaler, family)
        summary["time_budget_s"] = budget_s
        summary["asha_rungs"] = (
            list(tuning.asha_rungs(cfg)) if cfg.search.scheduler == "asha" else []
        )
        if want_members:
            extra = [load_member(paths, kind, kind) for kind in kinds]
            members = net_members(experiment, cfg.ensemble.top_k, dataset, split, family) + extra
            refitter = None
            if cfg.ensemble.refit:
                end = None if budget_s is None else started + budget_s
                refitter = make_refitter(
                    experiment, cfg, data_ref, len(split.val) / len(split.train), slots, end
                )
            summary["ensemble"] = ensemble_stage(
                experiment, members, dataset, split, scaler, cfg, refit=refitter
            )
        elif paths.summary.exists():
            summary["ensemble"] = read_json(paths.summary).get("ensemble")
        summary["duration_s"] = time.time() - started
        write_json_atomic(paths.summary, summary)
        if want_members:  # done once its summary is written
            meta = meta.update(paths, stages={**meta.stages, "ensemble": True})
        finished = meta.done("tune") and (meta.done("ensemble") or not cfg.ensemble.enabled)
        meta.update(paths, status="completed" if finished else "partial", finished_at=now())
        return experiment
    except BaseException as exc:
        reason = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if reason == "failed" and storage_full(exc, paths.root) is not None:
            error = "storage full: free space there, then resume"
        try:
            meta.update(paths, status=reason, error=error)
        except OSError:  # a full disk may refuse this too; readers then see "died"
            pass
        raise
