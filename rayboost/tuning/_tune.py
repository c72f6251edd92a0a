"""Run the net search on Ray Tune and collect each trial's best-epoch artifacts."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
from ray.tune.search import BasicVariantGenerator

from rayboost._layout import ExperimentPaths
from rayboost._trust import check_trusted
from rayboost.config import Config
from rayboost.data import TrialData
from rayboost.tuning._budget import BudgetLimiter, TrialBudget
from rayboost.tuning._callbacks import ProgressCallback, RecordCallback
from rayboost.tuning._space import SearchPlan, grace_period, plan_search
from rayboost.tuning._trainable import train_trial

__all__ = ["TuneOutcome", "share", "tune_nets"]


@dataclass
class TuneOutcome:
    n_trials: int
    trial_ids: list[str]  # trials with a best-epoch model
    errors: int
    all_ids: list[str]  # every trial Tune ran (across restored and new rounds)


def _quiet_tune() -> None:
    """Our records replace Tune's file loggers; keep Tune from warning about their absence."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no configuration box: we print progress
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)


REPORT_EVERY_S = 2.0
"""A trial reports to Tune at ASHA's rungs, at its end, and at least this often (progress)."""


def _limited(search_alg: Any, limit: int, budget: TrialBudget) -> Any:
    """The search algorithm with its concurrency limit and time budget inside it.

    Tune's ``max_concurrent_trials`` only wraps a ``Searcher``: with the generator behind grid,
    random and manual search it is ignored (with a warning). The limit also travels with the
    algorithm into Tune's saved state, so a resumed experiment keeps it.
    """
    if isinstance(search_alg, BasicVariantGenerator):
        search_alg.max_concurrent = limit
        search_alg.budget = budget  # type: ignore[attr-defined]  # a Variants generator
        return search_alg
    return BudgetLimiter(search_alg, max_concurrent=limit, budget=budget)


def asha_rungs(cfg: Config) -> tuple[int, ...]:
    """The epochs at which ASHA compares trials: grace_period × reduction_factor^k ≤ max_epochs."""
    rungs, epoch = [], grace_period(cfg.search)
    while epoch <= cfg.search.max_epochs:
        rungs.append(epoch)
        epoch *= cfg.search.reduction_factor
    return tuple(rungs)


def check_restorable(paths: ExperimentPaths, round_dir: Path) -> None:
    """Every folder from the experiment's down to ``round_dir`` and every file in it belongs to
    this user and is writable by nobody else (see :mod:`rayboost._trust`)."""
    check_trusted(
        [
            paths.root,
            paths.tune_dir,
            round_dir,
            *sorted(p for p in round_dir.iterdir() if not p.is_dir()),
        ],
        f"resume {paths.name!r} from Ray Tune's saved state",
    )


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
    deadline: float | None = None,
) -> TuneOutcome:
    """Search nets of ``family`` on ``data`` (train/val only) with at most ``slots`` trials at once.
    ``data`` may be an object-store reference (see :func:`share`). ``deadline`` (``time.time()``)
    ends the search: no trial starts that would not finish before it, and Tune stops the
    search at it.

    Ray must already be connected and the resource request checked (:func:`check_resources`).
    """
    trainable = tune.with_resources(
        tune.with_parameters(
            train_trial,
            data=data,
            family=family,
            seed=cfg.seed,
            max_epochs=cfg.search.max_epochs,
            cpus=cfg.resources.cpus_per_trial,
            root=str(paths.root),
            checkpoint_every_s=cfg.search.checkpoint_every_s,
            report_epochs=asha_rungs(cfg) if cfg.search.scheduler == "asha" else (),
            report_every_s=REPORT_EVERY_S,
        ),
        {"cpu": cfg.resources.cpus_per_trial, "gpu": cfg.resources.gpus_per_trial},
    )
    _quiet_tune()
    results: list[Any] = []
    rounds = sorted(paths.tune_dir.glob("round-*"), key=lambda p: int(p.name.split("-")[1]))
    restorable = [r for r in rounds if tune.Tuner.can_restore(str(r))]
    for (
        round_dir
    ) in restorable:  # Tune reads its state with pickle: only from folders nobody else can write
        check_restorable(paths, round_dir)
    for round_dir in restorable:  # finished trials are kept, unfinished ones continue
        if verbose:
            print(f"rayboost: restoring {round_dir.name} from its last saved state", flush=True)
        # Tune does not keep the param space with its state. A searcher restores its own space
        # from its saved state, but a driver killed before the searcher's first save leaves none
        # (TPE then fails on its first suggestion): give the space again. Grid, random and
        # manual search keep their whole configurations in their own state.
        space = None if isinstance(plan.search_alg, BasicVariantGenerator) else plan.param_space
        restored = tune.Tuner.restore(
            str(round_dir),
            trainable,
            resume_unfinished=True,
            resume_errored=True,
            param_space=space,
        )
        results.extend(restored.fit())
    remaining = plan.n_trials - len(results) if plan.n_trials is not None else 0
    k = len(rounds) + 1
    if not restorable:  # a fresh experiment (or one stopped before Tune saved any state)
        results.extend(
            _new_round(cfg, plan, trainable, metric, mode, slots, paths, k, verbose, deadline)
        )
    elif remaining > 0 and cfg.search.algorithm in ("hyperopt", "random"):
        # a resume raised the budget: a new round of trials, with a search of its own (the
        # portfolio ran in the first round)
        search = dataclasses.replace(cfg.search, num_samples=remaining, portfolio=0)
        plan = plan_search(search, family, plan.task, cfg.seed + k - 1)
        if verbose:
            print(f"rayboost: {remaining} more trials (round {k})", flush=True)
        results.extend(
            _new_round(cfg, plan, trainable, metric, mode, slots, paths, k, verbose, deadline)
        )
    for state in paths.root.glob("trials/*/state.pt"):
        state.unlink()  # checkpoints of trials ASHA stopped: the search is over
    errors = sum(1 for result in results if result.error is not None)
    trial_ids = [
        r.metrics["trial_id"]
        for r in results
        if r.metrics and paths.trial_model(r.metrics["trial_id"]).exists()
    ]
    all_ids = [r.metrics["trial_id"] for r in results if r.metrics and "trial_id" in r.metrics]
    return TuneOutcome(n_trials=len(results), trial_ids=trial_ids, errors=errors, all_ids=all_ids)


def _new_round(
    cfg: Config,
    plan: SearchPlan,
    trainable: Any,
    metric: str,
    mode: str,
    slots: int,
    paths: ExperimentPaths,
    k: int,
    verbose: bool,
    deadline: float | None,
) -> Any:
    if cfg.search.scheduler == "asha":
        scheduler: Any = ASHAScheduler(
            time_attr="epoch",  # a restarted trial continues its epochs; Tune's iteration count restarts
            max_t=cfg.search.max_epochs,
            grace_period=grace_period(cfg.search),
            reduction_factor=cfg.search.reduction_factor,
        )
    else:
        scheduler = FIFOScheduler()
    callbacks: list[tune.Callback] = [RecordCallback(paths)]
    if verbose:
        callbacks.append(
            ProgressCallback(f"val_{metric}", mode, plan.n_trials, deadline=deadline)
        )  # shows the epoch's value
    tuner = tune.Tuner(
        trainable,
        param_space=plan.param_space,
        tune_config=tune.TuneConfig(
            # ASHA and the searcher see each trial's best validation metric so far ("objective"):
            # the score selection uses, so TPE learns from a trial's best epoch, not its last;
            # how TPE ranks a trial ASHA stopped is search.stopped_trials (see _space._TPE).
            metric="objective",
            mode=mode,
            search_alg=_limited(
                plan.search_alg,
                min(cfg.search.max_concurrent_trials or slots, plan.n_trials or slots),
                TrialBudget(deadline, cfg.search.max_epochs),
            ),
            scheduler=scheduler,
            num_samples=plan.num_samples,
            time_budget_s=None if deadline is None else max(deadline - time.time(), 1.0),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"round-{k}",
            storage_path=str(paths.tune_dir),
            callbacks=callbacks,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=2),
        ),
    )
    return tuner.fit()
