"""rayboost's default pipeline vs a plain textbook PyTorch CNN: same split, same wall-clock budget.

For each dataset and seed, both sides run in this one process, one after the other:

1. ``rayboost.run`` with every default (HyperOpt + ASHA search, ensemble); only the data, seed,
   storage and name are set. Recorded: the best net's test accuracy
   (``exp.summary()["test"]["accuracy"]``), the ensemble's (``exp.members()``, row
   ``ensemble``) and its difference to that net in points (``ensemble_minus_selected_pts``),
   the ensemble's test log loss over the lowest member's (``ensemble_logloss_ratio``, < 1: it
   beats every member on a proper score), the wall time of the whole call, the number of trials, and the fraction of
   trials that left chance level before ASHA's first rung (below).
2. ``train_plain``: the CNN every tutorial writes (two conv-conv-maxpool stages of 32 and 64
   filters with BatchNorm + ReLU, dropout, a 128-unit head; AdamW lr 3e-3, batch 64, one-cycle
   schedule, random ±2-pixel shifts, ±1 on 8×8), inputs standardised per channel with the
   train rows' mean and std, trained on the train rows of the *same* split (rebuilt with
   ``rayboost.data.split_dataset`` and checked against the run's ``split_fingerprint``) for
   rayboost's wall time of that seed, then scored once on the test rows.

Epochs of the plain script: one forward + backward pass of a throwaway copy of the net first
(one-time start-up costs stay out of the timing), then epoch 1 runs at the one-cycle schedule's
starting learning rate (max_lr / 25) and is timed (t1); the planned total is
N = max(2, floor(budget / t1)); a ``OneCycleLR`` over N epochs is built, advanced past epoch 1's
steps, and epochs 2..N follow it.
The budget is only used to plan N: training is not cut off when it runs over (the planned
schedule always finishes), so wall_s of the plain side is reported next to the budget.

Trials learning: a trial "left chance level" when its best ``val_accuracy`` over epochs ≤ r
(r = ASHA's first rung, ``exp.summary()["asha_rungs"][0]``, 1 when absent) exceeds
p + 3·sqrt(p(1 − p)/n_val), p the majority class's share of the validation labels: a net that
has not passed that by the first rung is compared by ASHA on noise.

Numbers are medians over seeds 0, 1, 2 per dataset: 5,000 28×28 images from
``examples/make_pixel_csv.py`` ("pixels") and the bundled 8×8 digits ("digits").
``best_net_minus_plain_pts`` is the median over seeds of 100 × (best net − plain test accuracy).
``--quick``: digits, seed 0, and ``search.time_budget_s=20``, ``search.max_epochs=3``.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks._common import (
    PIXEL_ROWS,
    data_overrides,
    goal,
    load_data,
    median,
    ray_session,
    rnd,
    run_rayboost,
    storage_dir,
)

DATASETS = ("pixels", "digits")
SEEDS = (0, 1, 2)
QUICK_OVERRIDES = {"search.time_budget_s": 20, "search.max_epochs": 3}
LR, WEIGHT_DECAY, BATCH, THREADS = 3e-3, 1e-4, 64, 2
DIV_FACTOR = 25.0  # OneCycleLR's default: the schedule starts at max_lr / 25


# -- the plain textbook script ---------------------------------------------------------------------
def textbook_cnn(channels: int, height: int, width: int, classes: int) -> nn.Module:
    def conv(c_in: int, c_out: int) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *conv(channels, 32),
        *conv(32, 32),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        *conv(32, 64),
        *conv(64, 64),
        nn.MaxPool2d(2),
        nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(64 * (height // 4) * (width // 4), 128),
        nn.BatchNorm1d(128),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, classes),
    )


def random_shift(x: torch.Tensor, pixels: int, gen: torch.Generator) -> torch.Tensor:
    """Each image moved by up to ±``pixels`` in both directions: replicate-pad, random crop."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (pixels,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, len(x)), generator=gen).tolist()
    return torch.stack([p[:, i : i + h, j : j + w] for p, i, j in zip(padded, dy, dx, strict=True)])


def _epoch(
    model: nn.Module,
    opt: Any,
    sched: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    shift: int,
    gen: torch.Generator,
) -> None:
    model.train()
    for idx in torch.randperm(len(x), generator=gen).split(BATCH):
        if len(idx) < 2:  # BatchNorm1d cannot train on one row
            continue
        loss = F.cross_entropy(model(random_shift(x[idx], shift, gen)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()


def _warm_up(model: nn.Module, x: torch.Tensor, y: torch.Tensor, shift: int) -> None:
    """One forward + backward pass of a copy, discarded: one-time start-up costs (kernel
    set-up, first touch of memory) stay out of the timed first epoch that plans the run."""
    twin = copy.deepcopy(model).train()
    batch = random_shift(x[:BATCH], shift, torch.Generator().manual_seed(0))
    F.cross_entropy(twin(batch), y[:BATCH]).backward()


def _one_cycle(opt: torch.optim.Optimizer, epochs: int, steps: int, done: int) -> Any:
    """``OneCycleLR`` over ``epochs`` × ``steps`` batches, advanced past the ``done`` trained."""
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=LR, total_steps=epochs * steps, div_factor=DIV_FACTOR
    )
    with warnings.catch_warnings():  # stepping the schedule without training is the point here
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(done):
            sched.step()
    return sched


def train_plain(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    classes: int,
    budget_s: float,
    seed: int,
    epochs: int | None = None,
) -> dict[str, Any]:
    """Train the textbook CNN for about ``budget_s`` seconds (see the module docstring for how
    epochs are planned; ``epochs`` fixes their number instead), then score it once on the test
    rows."""
    start, threads = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        mean = X_train.mean(axis=(0, 2, 3), keepdims=True)
        std = X_train.std(axis=(0, 2, 3), keepdims=True)
        x = torch.from_numpy((X_train - mean) / std).float()
        y = torch.from_numpy(np.asarray(y_train)).long()
        shift = 2 if min(x.shape[-2:]) >= 28 else 1
        model = textbook_cnn(*x.shape[1:], classes)
        opt = torch.optim.AdamW(model.parameters(), lr=LR / DIV_FACTOR, weight_decay=WEIGHT_DECAY)
        steps = len(x) // BATCH + (len(x) % BATCH >= 2)  # batches per epoch
        _warm_up(model, x, y, shift)
        t0 = time.perf_counter()
        _epoch(model, opt, None, x, y, shift, gen)  # epoch 1: timed, at the starting lr
        first_epoch_s = time.perf_counter() - t0
        planned = epochs if epochs is not None else max(2, math.floor(budget_s / first_epoch_s))
        sched = _one_cycle(opt, planned, steps, done=steps)
        for _ in range(planned - 1):
            _epoch(model, opt, sched, x, y, shift, gen)
        train_s = time.perf_counter() - t0
        model.eval()
        xs = torch.from_numpy((X_test - mean) / std).float()
        with torch.no_grad():
            pred = torch.cat([model(b).argmax(1) for b in xs.split(1024)]).numpy()
    finally:
        torch.set_num_threads(threads)
    return {
        "test_accuracy": float(np.mean(pred == np.asarray(y_test))),
        "epochs": planned,
        "first_epoch_s": rnd(first_epoch_s, 6),
        "train_s": rnd(train_s, 2),
        "budget_s": rnd(budget_s, 2),
        "wall_s": rnd(time.perf_counter() - start, 2),
    }


# -- trials that learn before ASHA's first rung ----------------------------------------------------
def chance_threshold(val_labels: np.ndarray | list[int]) -> float:
    """Majority-class share p of the validation labels plus three binomial standard errors."""
    labels = np.asarray(val_labels)
    p = float(np.bincount(labels).max() / len(labels))
    return p + 3 * math.sqrt(p * (1 - p) / len(labels))


def first_rung(summary: dict[str, Any]) -> int:
    rungs = summary.get("asha_rungs")
    return int(rungs[0]) if isinstance(rungs, list | tuple) and rungs else 1


def learning_fraction(
    epochs: pd.DataFrame, trial_ids: list[str], rung: int, threshold: float
) -> float | None:
    """Share of ``trial_ids`` whose best val_accuracy over epochs ≤ ``rung`` exceeds ``threshold``
    (a trial with no epoch records counts as not learning)."""
    if not trial_ids:
        return None
    early = epochs[epochs["epoch"] <= rung].groupby("trial_id")["val_accuracy"].max()
    return sum(bool(early.get(t, -math.inf) > threshold) for t in trial_ids) / len(trial_ids)


# -- one dataset and seed --------------------------------------------------------------------------
def _ensemble_scores(exp: Any) -> dict[str, float | None]:
    """The ensemble's test accuracy, and its test log loss over the lowest member's (< 1: it
    beats every member on a proper score); None when no ensemble was fitted."""
    from rayboost import ExperimentError

    try:
        members = exp.members()
    except ExperimentError:
        return {"accuracy": None, "logloss_ratio": None}
    row = members[members["member"] == "ensemble"]
    if row.empty:
        return {"accuracy": None, "logloss_ratio": None}
    parts = members[members["member"] != "ensemble"]
    # the version handed back (refit on train + validation where it was), against every member
    # in either version
    final = "refit_test" if "refit_test_accuracy" in members and row["refit"].iloc[0] else "test"
    lowest = min(
        parts["test_log_loss"].min(), parts.get("refit_test_log_loss", parts["test_log_loss"]).min()
    )
    return {
        "accuracy": float(row[f"{final}_accuracy"].iloc[0]),
        "logloss_ratio": float(row[f"{final}_log_loss"].iloc[0] / lowest),
    }


def _one(
    storage: Path, dataset: str, ds: Any, seed: int, data: dict[str, Any], extra: dict[str, Any]
) -> dict[str, Any]:
    from rayboost.config import DataConfig
    from rayboost.data import split_dataset

    exp, wall = run_rayboost(storage, f"nets-{dataset}-{seed}", {"seed": seed, **data, **extra})
    summary = exp.summary()
    fractions = {**vars(DataConfig()), **summary.get("config", {}).get("data", {})}
    split = split_dataset(ds, seed, fractions["val_fraction"], fractions["test_fraction"])
    if split.fingerprint != summary["split_fingerprint"]:
        raise RuntimeError(f"{dataset} seed {seed}: the rebuilt split is not the run's split")
    trials = exp.trials()
    trial_ids = trials.loc[trials["status"] != "abandoned", "trial_id"].tolist()
    threshold, rung = chance_threshold(ds.y[split.val]), first_rung(summary)
    best = (summary.get("test") or {}).get("accuracy")
    ensemble = _ensemble_scores(exp)
    ours = {
        "best_net_test_accuracy": rnd(best),
        "ensemble_test_accuracy": rnd(ensemble["accuracy"]),
        "ensemble_minus_selected_pts": rnd(
            None
            if best is None or ensemble["accuracy"] is None
            else 100 * (ensemble["accuracy"] - best),
            2,
        ),
        "ensemble_logloss_ratio": rnd(ensemble["logloss_ratio"]),
        "wall_s": rnd(wall, 2),
        "n_trials": summary.get("n_trials", len(trial_ids)),
        "trials_learning_fraction": rnd(
            learning_fraction(exp.epochs(), trial_ids, rung, threshold)
        ),
        "first_rung": rung,
        "chance_threshold": rnd(threshold),
        "split_sizes": split.sizes(),
    }
    plain = train_plain(
        ds.X[split.train],
        ds.y[split.train],
        ds.X[split.test],
        ds.y[split.test],
        ds.n_outputs,
        wall,
        seed,
    )
    diff = None if best is None else 100 * (best - plain["test_accuracy"])
    plain["test_accuracy"] = rnd(plain["test_accuracy"])
    return {
        "seed": seed,
        "rayboost": ours,
        "plain": plain,
        "best_net_minus_plain_pts": rnd(diff, 2),
    }


def run(quick: bool = False) -> dict[str, Any]:
    datasets, seeds = (("digits",), (0,)) if quick else (DATASETS, SEEDS)
    extra = QUICK_OVERRIDES if quick else {}
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    with storage_dir() as storage, ray_session(num_cpus=2):
        for dataset in datasets:
            data = data_overrides(dataset, storage)
            ds = load_data(data)
            for seed in seeds:
                per[dataset].append(_one(storage, dataset, ds, seed, data, extra))

    def med(side: str, key: str, digits: int = 4) -> dict[str, float | None]:
        return {d: rnd(median([r[side][key] for r in rows]), digits) for d, rows in per.items()}

    diff = {
        d: rnd(median([r["best_net_minus_plain_pts"] for r in rows]), 2) for d, rows in per.items()
    }
    metrics = {
        "best_net_minus_plain_pts": diff,
        "trials_learning_fraction": med("rayboost", "trials_learning_fraction"),
        "best_net_test_accuracy": med("rayboost", "best_net_test_accuracy"),
        "ensemble_test_accuracy": med("rayboost", "ensemble_test_accuracy"),
        "ensemble_minus_selected_pts": med("rayboost", "ensemble_minus_selected_pts", 2),
        "ensemble_logloss_ratio": med("rayboost", "ensemble_logloss_ratio"),
        "plain_test_accuracy": med("plain", "test_accuracy"),
        "wall_s": med("rayboost", "wall_s", 1),
    }
    pixels_goals = {  # metric: (op, threshold), on the 28×28 images only
        "best_net_test_accuracy": (">=", 0.985),
        "ensemble_test_accuracy": (">=", 0.99),
        "wall_s": ("<=", 600.0),
    }
    goals: dict[str, dict[str, Any]] = {
        "best_net_minus_plain_pts": {d: goal(v, ">=", 0.0) for d, v in diff.items()},
        "trials_learning_fraction": {
            d: goal(v, ">=", 0.8) for d, v in metrics["trials_learning_fraction"].items()
        },
        "ensemble_minus_selected_pts": {
            d: goal(v, ">=", 0.0) for d, v in metrics["ensemble_minus_selected_pts"].items()
        },
        "ensemble_logloss_ratio": {
            d: goal(v, "<", 1.0) for d, v in metrics["ensemble_logloss_ratio"].items()
        },
    }
    for metric, (op, threshold) in pixels_goals.items():
        goals[metric] = {
            d: goal(v, op, threshold) for d, v in metrics[metric].items() if d == "pixels"
        }
    return {
        "metrics": metrics,
        "goals": goals,
        "details": {
            "setup": {
                "datasets": {
                    "pixels": f"{PIXEL_ROWS} 28x28 images (make_pixel_csv, seed 0)",
                    "digits": "bundled 8x8 digits",
                },
                "rayboost": "all defaults" + (f" except {QUICK_OVERRIDES}" if quick else ""),
                "plain": {
                    "net": "2×(conv-conv-maxpool) 32/64 filters, BN+ReLU, dropout .25/.5, fc 128",
                    "optimizer": f"AdamW lr {LR} weight_decay {WEIGHT_DECAY}, batch {BATCH}",
                    "schedule": "epoch 1 at lr/25 (timed); OneCycleLR over "
                    "N = max(2, floor(budget / epoch-1 time)) epochs, epochs 2..N",
                    "augmentation": "random shift ±2 px (28×28), ±1 px (8×8), replicate pad",
                    "threads": THREADS,
                    "budget": "rayboost's wall time for the same dataset and seed",
                },
                "seeds": list(seeds),
            },
            "per_dataset": per,
        },
    }
