"""Does BatchNorm train faster? Epochs to reach a target validation accuracy, bn=before vs none.

The same digits CNN (the lecture's net, ``_common.CLASSIC``: 16 filters, 2 blocks of one
separable conv with a standard stem, an averaged head, Adam at a constant rate) trained with
NetTrainer, several seeds, both placements from the
same seed. A run that never reaches the target within max_epochs counts as max_epochs + 1
(censored; reported). bn_epochs_ratio = median epochs with BN / median epochs without (below 1:
BN reaches the target in fewer epochs). The same at a 10× larger learning rate is in details.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import CLASSIC, median, net_params, rnd, train_many, trial_data


def _epochs_to(records: list[dict[str, Any]], target: float) -> int | None:
    for r in records:
        if r["val_accuracy"] >= target:
            return int(r["epoch"])
    return None


def run(quick: bool = False) -> dict[str, Any]:
    seeds = (0, 1) if quick else (0, 1, 2, 3, 4, 5)
    max_epochs = 3 if quick else 40
    target = 0.80 if quick else 0.95
    lrs = (3e-3,) if quick else (3e-3, 3e-2)
    data = trial_data("digits", 0)
    jobs = {
        (lr, bn, seed): (
            "cnn",
            net_params(
                "cnn",
                "classification",
                max_epochs,
                **CLASSIC,
                conv="separable",
                bn=bn,
                lr=lr,
                patience=10_000,
            ),
            data,
            seed,
            max_epochs,
            target,
        )
        for lr in lrs
        for bn in ("before", "none")
        for seed in seeds
    }
    results = train_many(jobs, workers=0 if quick else 2)
    by_lr: dict[str, Any] = {}
    for lr in lrs:
        row: dict[str, Any] = {}
        for bn in ("before", "none"):
            reached = [_epochs_to(results[(lr, bn, s)]["records"], target) for s in seeds]
            counted = [max_epochs + 1 if e is None else e for e in reached]
            secs = [
                sum(r["epoch_time_s"] for r in results[(lr, bn, s)]["records"])
                / len(results[(lr, bn, s)]["records"])
                for s in seeds
            ]
            row[bn] = {
                "epochs_to_target": reached,
                "median_epochs": median(counted),
                "not_reached": sum(e is None for e in reached),
                "median_epoch_s": rnd(median(secs), 4),
            }
        row["epochs_ratio"] = rnd(row["before"]["median_epochs"] / row["none"]["median_epochs"], 3)
        row["epoch_time_ratio"] = rnd(
            row["before"]["median_epoch_s"] / row["none"]["median_epoch_s"], 3
        )
        row["time_to_target_ratio"] = rnd(row["epochs_ratio"] * row["epoch_time_ratio"], 3)
        by_lr[f"lr={lr:g}"] = row
    main = by_lr[f"lr={lrs[0]:g}"]
    return {
        "metrics": {
            "bn_epochs_ratio": main["epochs_ratio"],
            "bn_median_epochs": main["before"]["median_epochs"],
            "no_bn_median_epochs": main["none"]["median_epochs"],
        },
        "goals": {},
        "details": {
            "setup": {
                "dataset": "digits",
                "target_val_accuracy": target,
                "max_epochs": max_epochs,
                "seeds": list(seeds),
                "params": "the lecture's net (filters 16, blocks 2 of one separable conv, stem standard, gap head, adam constant lr, batch 64)",
            },
            "by_lr": by_lr,
        },
    }
