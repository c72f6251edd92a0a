"""Does the ensemble raise performance? rayboost's default pipeline, then every weighting method
re-fit on the same stored members, per dataset and seed.

``rayboost.run`` with every default (time budget ``auto``: 60 s on these data sets, HyperOpt +
ASHA, top 3 nets + XGBoost + linear, calibrated members, the default weights); only the data,
seed, storage and name are set. Then ``rayboost.reweight`` fits the same members again with each
variant in ``VARIANTS`` (nothing is retrained; the test rows are scored after the weights are
fixed, as in the pipeline). Per variant, from ``exp.members()`` and ``exp.summary()``:

  ensemble_minus_selected_pts   digits, breast_cancer: (ensemble − the validation-selected
                                net) test accuracy × 100; diabetes: selected net RMSE − ensemble
                                RMSE (positive = ensemble better)
  ensemble_logloss_ratio        ensemble test log loss / the lowest member test log loss
                                (regression: RMSE / the lowest member RMSE); < 1: the ensemble
                                beats every member on a proper score
  ensemble_minus_best_pts       as before: against the member with the best validation score,
                                with rayboost's paired bootstrap interval per seed in details
  cv_minus_test                 the cross-fitted validation estimate of the ensemble's primary
                                score minus its test score (how far the estimate a user sees
                                before the test split is from what test then says)

Medians over seeds 0-4. Metrics and goals are those of the default variant; ``details.variants``
has every variant's medians, which is how the default was chosen.
"""

from __future__ import annotations

from typing import Any

from benchmarks._common import goal, median, ray_session, rnd, run_rayboost, storage_dir

DATASETS = ("digits", "breast_cancer", "diabetes")
SEEDS = (0, 1, 2, 3, 4)
VARIANTS = (  # (method, calibrate): the default first
    ("bagged", True),
    ("greedy", False),  # the default before calibration
    ("greedy", True),
    ("optimize", True),
    ("bagged", False),
    ("uniform", True),
)
QUICK_OVERRIDES = {"search.time_budget_s": 15, "search.max_epochs": 3}


def _label(method: str, calibrate: bool) -> str:
    return method + ("+calibrated" if calibrate else "")


def _measure(exp: Any) -> dict[str, Any]:
    summary = exp.summary()
    ens = summary["ensemble"]
    members = exp.members()
    parts, whole = members[members["member"] != "ensemble"], members[members["member"] == "ensemble"].iloc[0]
    selected = (summary.get("test") or {})
    if ens["metric"] == "rmse":
        vs_selected = None if "rmse" not in selected else selected["rmse"] - whole["test_rmse"]
        ratio = whole["test_rmse"] / parts["test_rmse"].min()
        cv_gap = whole["cv_rmse"] - whole["test_rmse"] if "cv_rmse" in whole else None
        vs_best = -ens["ensemble_minus_best"]
    else:
        vs_selected = None if "accuracy" not in selected else 100 * (whole["test_accuracy"] - selected["accuracy"])
        ratio = whole["test_log_loss"] / parts["test_log_loss"].min()
        cv_gap = 100 * (whole["cv_accuracy"] - whole["test_accuracy"]) if "cv_accuracy" in whole else None
        vs_best = 100 * ens["ensemble_minus_best"]
    return {
        "ensemble_minus_selected_pts": rnd(vs_selected, 3),
        "ensemble_logloss_ratio": rnd(ratio, 4),
        "ensemble_minus_best_pts": rnd(vs_best, 3),
        "cv_minus_test": rnd(cv_gap, 3),
        "weights": {m: rnd(w, 3) for m, w in zip(parts["member"], parts["weight"], strict=True)},
    }


def _one(storage: Any, dataset: str, seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    from rayboost import reweight

    name = f"{dataset}-{seed}"
    exp, wall = run_rayboost(storage, name, {"seed": seed, "data.dataset": dataset, **extra})
    summary = exp.summary()
    out: dict[str, Any] = {"seed": seed, "wall_s": rnd(wall, 1), "n_trials": summary.get("n_trials"), "variants": {}}
    for method, calibrate in VARIANTS:
        reweight(name, storage, method=method, calibrate=calibrate)
        out["variants"][_label(method, calibrate)] = _measure(exp)
    return out


KEYS = ("ensemble_minus_selected_pts", "ensemble_logloss_ratio", "ensemble_minus_best_pts", "cv_minus_test")


def run(quick: bool = False) -> dict[str, Any]:
    datasets, seeds = (("digits",), (0,)) if quick else (DATASETS, SEEDS)
    extra = QUICK_OVERRIDES if quick else {}
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    with storage_dir() as storage, ray_session(num_cpus=2):
        for seed in seeds:
            for dataset in datasets:
                per[dataset].append(_one(storage, dataset, seed, extra))

    def med(variant: str, key: str) -> dict[str, float | None]:
        return {d: rnd(median([r["variants"][variant][key] for r in rows]), 4) for d, rows in per.items()}

    variants = {_label(*v): {key: med(_label(*v), key) for key in KEYS} for v in VARIANTS}
    default = variants[_label(*VARIANTS[0])]
    return {
        "metrics": {key: default[key] for key in KEYS},
        "goals": {
            "ensemble_minus_selected_pts": {d: goal(v, ">=", 0.0) for d, v in default["ensemble_minus_selected_pts"].items()},
            "ensemble_logloss_ratio": {d: goal(v, "<", 1.0) for d, v in default["ensemble_logloss_ratio"].items()},
        },
        "details": {
            "setup": {
                "rayboost": "all defaults" + (f" except {QUICK_OVERRIDES}" if quick else ""),
                "default_variant": _label(*VARIANTS[0]),
                "variants": "rayboost.reweight(name, method=..., calibrate=...) on the same members",
                "seeds": list(seeds),
            },
            "units": {
                "ensemble_minus_selected_pts": "accuracy points; diabetes: RMSE (selected − ensemble)",
                "ensemble_logloss_ratio": "test log loss (diabetes: RMSE) / the lowest member's",
            },
            "variants": variants,
            "per_dataset": per,
        },
    }
