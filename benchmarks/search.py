"""HyperOpt TPE vs random search, both under ASHA, equal trial budget, over several seeds.

Each seed fixes the data split and the searcher's random state for both algorithms. TPE starts
from ``search.n_initial_points`` random points (rayboost's default: a quarter of the budget).
The number is the difference of the median best validation accuracy across seeds.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import goal, median, ray_session, rnd, run_rayboost, storage_dir


def _best(
    storage: Any, name: str, seed: int, algorithm: str, n: int, epochs: int
) -> dict[str, Any]:
    exp, wall = run_rayboost(
        storage,
        name,
        {
            "seed": seed,
            "data.dataset": "digits",
            "search.algorithm": algorithm,
            "search.scheduler": "asha",
            "search.num_samples": n,
            "search.max_epochs": epochs,
            "ensemble.enabled": False,
        },
    )
    trials = exp.trials()
    return {
        "best_val_accuracy": float(trials["best_val_accuracy"].max()),
        "epochs": int(trials["epochs"].sum()),
        "wall_s": round(wall, 2),
        "n_val": int(exp.summary()["split_sizes"]["val"]),
    }


def run(quick: bool = False) -> dict[str, Any]:
    n, epochs = (4, 2) if quick else (16, 15)
    seeds = (0,) if quick else (0, 1, 2, 3, 4)
    per_seed = []
    with storage_dir() as storage, ray_session(num_cpus=2):
        for i, seed in enumerate(seeds):
            order = ("hyperopt", "random") if i % 2 == 0 else ("random", "hyperopt")
            res = {a: _best(storage, f"{a}-{seed}", seed, a, n, epochs) for a in order}
            per_seed.append({"seed": seed, "tpe": res["hyperopt"], "random": res["random"]})
    tpe = median([s["tpe"]["best_val_accuracy"] for s in per_seed])
    rand = median([s["random"]["best_val_accuracy"] for s in per_seed])
    diff = None if tpe is None or rand is None else 100 * (tpe - rand)
    wins = sum(s["tpe"]["best_val_accuracy"] > s["random"]["best_val_accuracy"] for s in per_seed)
    ties = sum(s["tpe"]["best_val_accuracy"] == s["random"]["best_val_accuracy"] for s in per_seed)
    return {
        "metrics": {"tpe_minus_random_pts": rnd(diff, 2)},
        "goals": {"tpe_minus_random_pts": goal(diff, ">=", 0.0)},
        "details": {
            "setup": {
                "dataset": "digits",
                "scheduler": "asha",
                "num_samples": n,
                "max_epochs": epochs,
                "n_initial_points": max(2, n // 4),
                "seeds": list(seeds),
            },
            "tpe_median_best_val_accuracy": rnd(tpe),
            "random_median_best_val_accuracy": rnd(rand),
            "tpe_wins_ties_losses": [wins, ties, len(per_seed) - wins - ties],
            "one_val_row_pts": rnd(100 / per_seed[0]["tpe"]["n_val"], 3),
            "per_seed": per_seed,
        },
    }
