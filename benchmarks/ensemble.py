"""Ensemble minus best member on test, with rayboost's paired bootstrap interval, per dataset.

``rayboost.run`` with the default search (HyperOpt + ASHA) and the default ensemble (top 3 nets,
XGBoost, linear; greedy weights on validation), then ``exp.summary()["ensemble"]``. The best
member is the one with the best validation score (as rayboost picks it).

Sign: positive always means the ensemble is better.
  digits, breast_cancer   (ensemble accuracy − best member accuracy) × 100, percentage points
  diabetes                best member RMSE − ensemble RMSE, in the target's units
                          (rayboost's ensemble_minus_best is ensemble − best RMSE: negated here)
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import goal, median, ray_session, rnd, run_rayboost, storage_dir

DATASETS = ("digits", "breast_cancer", "diabetes")


def _one(storage: Any, dataset: str, seed: int, n: int, epochs: int) -> dict[str, Any]:
    exp, wall = run_rayboost(
        storage,
        f"{dataset}-{seed}",
        {
            "seed": seed,
            "data.dataset": dataset,
            "search.num_samples": n,
            "search.max_epochs": epochs,
            "search.time_budget_s": None,  # the same trials in every run, however long they take
        },
    )
    ens = exp.summary()["ensemble"]
    low, high = ens["ensemble_minus_best_ci"]
    diff = ens["ensemble_minus_best"]
    if ens["metric"] == "rmse":
        value, ci = -diff, [-high, -low]
    else:
        value, ci = 100 * diff, [100 * low, 100 * high]
    members = exp.members()
    return {
        "seed": seed,
        "value": rnd(value, 3),
        "ci": [rnd(ci[0], 3), rnd(ci[1], 3)],
        "best_member": ens["best_member"],
        f"ensemble_test_{ens['metric']}": rnd(ens[f"ensemble_test_{ens['metric']}"], 4),
        f"best_member_test_{ens['metric']}": rnd(ens[f"best_member_test_{ens['metric']}"], 4),
        "weights": {
            m: rnd(w, 3)
            for m, w in zip(members["member"], members["weight"], strict=True)
            if m != "ensemble"
        },
        "wall_s": rnd(wall, 1),
    }


def run(quick: bool = False) -> dict[str, Any]:
    n, epochs = (2, 2) if quick else (12, 20)
    seeds = (0,) if quick else (0, 1, 2)
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in DATASETS}
    with storage_dir() as storage, ray_session(num_cpus=2):
        for seed in seeds:
            for dataset in DATASETS:
                per[dataset].append(_one(storage, dataset, seed, n, epochs))
    values = {d: rnd(median([r["value"] for r in rows]), 3) for d, rows in per.items()}
    return {
        "metrics": {"ensemble_minus_best_pts": values},
        "goals": {"ensemble_minus_best_pts": {d: goal(v, ">=", 0.0) for d, v in values.items()}},
        "details": {
            "setup": {
                "search": "hyperopt + asha (defaults)",
                "num_samples": n,
                "max_epochs": epochs,
                "seeds": list(seeds),
                "ensemble": "defaults: top_k 3 nets + xgboost + linear, greedy weights on validation",
            },
            "units": {
                "digits": "accuracy points (ensemble − best member)",
                "breast_cancer": "accuracy points (ensemble − best member)",
                "diabetes": "RMSE (best member − ensemble): positive = ensemble better",
            },
            "per_dataset": per,
        },
    }
