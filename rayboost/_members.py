"""The ensemble's members from an experiment's storage: nets of the best trials, XGBoost and
linear models as saved, and their refits on train + validation rows (see ``ensemble.refit``)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from rayboost._io import read_json
from rayboost._layout import ExperimentPaths
from rayboost.config import Config
from rayboost.data import Dataset, Split
from rayboost.ensemble import REFIT, Member, Refit, Refitter
from rayboost.models import MEMBER_KINDS, NetModel, target_scaling
from rayboost.results import Experiment, leaderboard, trial_params

__all__ = ["load_member", "make_refitter", "net_members", "net_model"]


def load_member(
    paths: ExperimentPaths, name: str, kind: str, trial_id: str | None = None
) -> Member:
    folder = paths.member_dir(name)
    return Member(
        name, kind, MEMBER_KINDS[kind].load(folder), np.load(folder / "val_pred.npy"), trial_id
    )


def net_model(
    experiment: Experiment, trials: Any, trial_id: str, dataset: Dataset, split: Split, family: str
) -> NetModel:
    params = trial_params(trials[trials["trial_id"] == trial_id].iloc[0])
    state = torch.load(experiment.paths.trial_model(trial_id), weights_only=True)
    y_mean, y_std = target_scaling(dataset.task, dataset.y[split.train])
    layout = None if dataset.encoder is None else dataset.encoder.layout()
    return NetModel(
        family,
        params,
        dataset.input_shape,
        dataset.n_outputs,
        dataset.task,
        y_mean,
        y_std,
        state,
        layout,
    )


def net_members(
    experiment: Experiment, top_k: int, dataset: Dataset, split: Split, family: str
) -> list[Member]:
    """The nets of the ``top_k`` best distinct trials, by validation metric at their best epoch."""
    trials = experiment.trials()
    board = leaderboard(trials, experiment.metric, experiment.mode, n=len(trials))
    members: list[Member] = []
    for trial_id in board["trial_id"]:
        if len(members) == top_k:
            break
        if not experiment.paths.trial_model(trial_id).exists():
            continue
        model = net_model(experiment, trials, trial_id, dataset, split, family)
        val_pred = np.load(experiment.paths.trial_val_pred(trial_id))
        members.append(Member(f"net_{len(members) + 1}", "net", model, val_pred, trial_id))
    return members


def make_refitter(
    experiment: Experiment, cfg: Config, data: Any, val_ratio: float, slots: int, end: float | None
) -> Refitter:
    """Refits the members with weight on train + validation rows (``data``: the trial data or
    its object-store reference) as Ray tasks, heaviest first while they fit before ``end`` (a
    ``time.time()``; None: all). A refit already saved for the same member is reused."""
    from rayboost import tuning
    from rayboost.tuning._trainable import trial_seed

    def refit(members: list[Member], w: np.ndarray) -> dict[str, Refit]:
        weights = {m.name: float(x) for m, x in zip(members, w, strict=True)}
        saved, jobs = {}, []
        epochs = experiment.epochs() if any(m.kind == "net" for m in members) else None
        trials = experiment.trials()
        for member in members:
            if weights[member.name] <= 0:
                continue
            folder = experiment.paths.member_dir(member.name) / REFIT
            record = read_json(folder / "refit.json") if (folder / "refit.json").exists() else {}
            if record and record.get("trial_id") == member.trial_id:
                saved[member.name] = Refit(MEMBER_KINDS[member.kind].load(folder), record)
                continue
            if member.kind == "net":
                row = trials[trials["trial_id"] == member.trial_id].iloc[0]
                best = int(row["best_epoch"])
                own = epochs[(epochs["trial_id"] == member.trial_id) & (epochs["epoch"] <= best)]
                took = float(own["epoch_time_s"].sum()) if "epoch_time_s" in own else 0.0
                schedule = min(int(member.model.params["epochs"]), int(cfg.search.max_epochs))
                job = tuning.RefitJob(
                    member.name,
                    "net",
                    member.model,
                    took * (1 + val_ratio),
                    seed=trial_seed(cfg.seed, member.trial_id),
                    epochs=best,
                    schedule_epochs=schedule,
                )
            else:
                took = float((getattr(member.model, "summary_", None) or {}).get("fit_s", 0.0))
                job = tuning.RefitJob(
                    member.name, member.kind, member.model, took * (1 + val_ratio)
                )
            jobs.append(job)
        seconds = None if end is None else max(0.0, end - time.time())
        chosen = tuning.choose_refits(jobs, weights, slots, seconds)
        results = tuning.run_refits(
            chosen, data, cfg.resources.cpus_per_trial, cfg.resources.gpus_per_trial
        )
        by_name = {m.name: m for m in members}
        done = {
            r.name: Refit(r.model, {**r.record, "trial_id": by_name[r.name].trial_id})
            for r in results
            if r.model is not None
        }
        return {**saved, **done}

    return refit
