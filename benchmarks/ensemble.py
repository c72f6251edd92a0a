"""Does the ensemble raise performance? rayboost's default pipeline, then every weighting method
re-fit on the same stored members, per dataset and seed.

``rayboost.run`` with every default (time budget ``auto``: 60 s on these data sets, HyperOpt +
ASHA, top 3 nets + XGBoost + linear, calibrated members, the default weights, members with
weight refit on train + validation); only the data, seed, storage and name are set. The same
data and seed run again once per arm in ``ARMS``: ``ensemble.refit=false`` (that run tunes during
the refits' share of the budget) and ``ensemble.xgboost_trials=1`` (XGBoost's defaults, no
search). Then ``rayboost.reweight`` fits the first run's members again with each
variant in ``VARIANTS`` (no trial is retrained; the test rows are scored after the weights are
fixed, as in the pipeline). Per run, from ``exp.members()`` and ``exp.summary()``, on the
ensemble handed back (its refit members where refit):

  ensemble_minus_selected_pts   digits, breast_cancer: (ensemble − the validation-selected
                                net) test accuracy × 100; diabetes: selected net RMSE − ensemble
                                RMSE (positive = ensemble better)
  ensemble_logloss_ratio        ensemble test log loss / the lowest member test log loss, over
                                both versions of every member (regression: RMSE); < 1: the
                                ensemble beats every member on a proper score
  ensemble_minus_best_pts       as before: against the member with the best validation score,
                                with rayboost's paired bootstrap interval per seed in details
  cv_minus_test                 the cross-fitted validation estimate of the ensemble's primary
                                score minus its test score (how far the estimate a user sees
                                before the test split is from what test then says)
  refit_gain_pts                the same members and weights: refit ensemble minus the ensemble
                                of the members as fit on train (positive = refit better)
  refit_run_minus_no_refit_pts  the default run's ensemble minus the ``ensemble.refit=false``
                                run's (each with its own tuning; positive = refit better)
  xgboost_search_run_minus_defaults_pts  the default run's ensemble minus the
                                ``ensemble.xgboost_trials=1`` run's (positive = the search helped)
  xgboost_tuned_minus_defaults  the XGBoost member alone, test log loss (diabetes RMSE) as fit
                                on train: defaults minus tuned (positive = the search helped)

Medians over seeds 0-4. Metrics and goals are those of the pipeline's own ensemble;
``details.variants`` has every weighting variant's medians, which is how the default was chosen.
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


def _final(row: Any, key: str) -> float:
    """A member's (or the ensemble's) test score in the version handed back: refit on train +
    validation where it was refit."""
    refit = row.get(f"refit_test_{key}")
    return float(refit) if refit is not None and refit == refit else float(row[f"test_{key}"])


def _measure(exp: Any) -> dict[str, Any]:
    summary = exp.summary()
    ens = summary["ensemble"]
    members = exp.members()
    parts, whole = (
        members[members["member"] != "ensemble"],
        members[members["member"] == "ensemble"].iloc[0],
    )
    selected = summary.get("test") or {}
    key = "rmse" if ens["metric"] == "rmse" else "log_loss"
    # against every member in either version (as fit on train, and refit): the lowest score
    lowest = min(
        parts[f"test_{key}"].min(), parts.get(f"refit_test_{key}", parts[f"test_{key}"]).min()
    )
    ratio = _final(whole, key) / lowest
    if ens["metric"] == "rmse":
        vs_selected = None if "rmse" not in selected else selected["rmse"] - _final(whole, "rmse")
        cv_gap = whole["cv_rmse"] - _final(whole, "rmse") if "cv_rmse" in whole else None
        refit_gain = whole["test_rmse"] - _final(whole, "rmse")
        vs_best = -ens["ensemble_minus_best"]
    else:
        vs_selected = (
            None
            if "accuracy" not in selected
            else 100 * (_final(whole, "accuracy") - selected["accuracy"])
        )
        cv_gap = (
            100 * (whole["cv_accuracy"] - _final(whole, "accuracy"))
            if "cv_accuracy" in whole
            else None
        )
        refit_gain = 100 * (_final(whole, "accuracy") - whole["test_accuracy"])
        vs_best = 100 * ens["ensemble_minus_best"]
    scale = 1.0 if ens["metric"] == "rmse" else 100.0
    return {
        "ensemble_test": rnd(
            scale * _final(whole, "rmse" if ens["metric"] == "rmse" else "accuracy"), 4
        ),
        "ensemble_minus_selected_pts": rnd(vs_selected, 3),
        "ensemble_logloss_ratio": rnd(ratio, 4),
        "ensemble_minus_best_pts": rnd(vs_best, 3),
        "cv_minus_test": rnd(cv_gap, 3),
        "refit_gain_pts": rnd(refit_gain, 3),
        "refit_logloss_ratio": rnd(_final(whole, key) / whole[f"test_{key}"], 4),
        "refit": list(ens.get("refit") or []),
        "weights": {m: rnd(w, 3) for m, w in zip(parts["member"], parts["weight"], strict=True)},
    }


def _one(storage: Any, dataset: str, seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    from rayboost import reweight

    name = f"{dataset}-{seed}"
    exp, wall = run_rayboost(storage, name, {"seed": seed, "data.dataset": dataset, **extra})
    summary = exp.summary()
    out: dict[str, Any] = {
        "seed": seed,
        "wall_s": rnd(wall, 1),
        "n_trials": summary.get("n_trials"),
        "variants": {},
    }
    out["default"] = _measure(exp)  # the pipeline's own ensemble, before any re-weighting
    # the same data and seed again with one default changed: the whole trade of that default
    for arm_name in ARMS:
        other, other_wall = run_rayboost(
            storage,
            f"{name}-{arm_name}",
            {"seed": seed, "data.dataset": dataset, **ARM_OVERRIDES[arm_name], **extra},
        )
        out[arm_name] = {
            **_measure(other),
            "wall_s": rnd(other_wall, 1),
            "n_trials": other.summary().get("n_trials"),
        }
        if (
            arm_name == "xgboost_defaults"
        ):  # the XGBoost member alone, tuned (default run) vs defaults
            out[arm_name]["xgboost_tuned_minus_defaults"] = _xgboost_gain(exp, other)
    for method, calibrate in VARIANTS:
        reweight(name, storage, method=method, calibrate=calibrate)
        out["variants"][_label(method, calibrate)] = _measure(exp)
    return out


ARM_OVERRIDES = {
    "no_refit": {"ensemble.refit": False},  # tunes during the refits' share of the budget instead
    "xgboost_defaults": {"ensemble.xgboost_trials": 1},  # XGBoost's defaults only, no search
}
ARMS = ("no_refit", "xgboost_defaults")
"""The comparison runs ``make bench`` makes beside the default one (each a whole second run)."""
ARM_METRICS = {
    "no_refit": "refit_run_minus_no_refit_pts",
    "xgboost_defaults": "xgboost_search_run_minus_defaults_pts",
}


def _xgboost_gain(tuned: Any, plain: Any) -> float | None:
    """The XGBoost member's test log loss (RMSE) as fit on train: defaults minus tuned
    (positive = the search helped)."""

    def score(exp: Any) -> float | None:
        members = exp.members()
        row = members[members["member"] == "xgboost"]
        key = "test_rmse" if "test_rmse" in members else "test_log_loss"
        return None if row.empty else float(row.iloc[0][key])

    a, b = score(tuned), score(plain)
    return None if a is None or b is None else rnd(b - a, 4)


KEYS = (
    "ensemble_minus_selected_pts",
    "ensemble_logloss_ratio",
    "ensemble_minus_best_pts",
    "cv_minus_test",
    "refit_gain_pts",
)


def run(quick: bool = False) -> dict[str, Any]:
    datasets, seeds = (("digits",), (0,)) if quick else (DATASETS, SEEDS)
    extra = QUICK_OVERRIDES if quick else {}
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    with storage_dir() as storage, ray_session(num_cpus=2):
        for seed in seeds:
            for dataset in datasets:
                per[dataset].append(_one(storage, dataset, seed, extra))

    def med(variant: str, key: str) -> dict[str, float | None]:
        return {
            d: rnd(median([r["variants"][variant][key] for r in rows]), 4)
            for d, rows in per.items()
        }

    variants = {_label(*v): {key: med(_label(*v), key) for key in KEYS} for v in VARIANTS}

    def arm(which: str, key: str) -> dict[str, float | None]:
        return {d: rnd(median([r[which][key] for r in rows]), 4) for d, rows in per.items()}

    default = {key: arm("default", key) for key in KEYS}
    arms = {a: {key: arm(a, key) for key in KEYS} for a in ARMS}
    # the default run vs each arm, each run with its own tuning: the handed-back ensembles'
    # test scores, positive = the default better
    sign = {d: -1.0 if d == "diabetes" else 1.0 for d in per}
    versus = {
        ARM_METRICS[a]: {
            d: rnd(
                median(
                    [
                        sign[d] * (r["default"]["ensemble_test"] - r[a]["ensemble_test"])
                        for r in rows
                    ]
                ),
                3,
            )
            for d, rows in per.items()
        }
        for a in ARMS
    }
    if "xgboost_defaults" in ARMS:
        versus["xgboost_tuned_minus_defaults"] = {
            d: rnd(median([r["xgboost_defaults"]["xgboost_tuned_minus_defaults"] for r in rows]), 4)
            for d, rows in per.items()
        }
    return {
        "metrics": {**{key: default[key] for key in KEYS}, **versus},
        "goals": {
            "ensemble_minus_selected_pts": {
                d: goal(v, ">=", 0.0) for d, v in default["ensemble_minus_selected_pts"].items()
            },
            "ensemble_logloss_ratio": {
                d: goal(v, "<", 1.0) for d, v in default["ensemble_logloss_ratio"].items()
            },
        },
        "details": {
            "setup": {
                "rayboost": "all defaults" + (f" except {QUICK_OVERRIDES}" if quick else ""),
                "default_variant": _label(*VARIANTS[0]),
                "variants": "rayboost.reweight(name, method=..., calibrate=...) on the same members",
                "arms": {
                    a: f"the same data and seed run again with {ARM_OVERRIDES[a]} (its own tuning)"
                    for a in ARMS
                },
                "seeds": list(seeds),
            },
            "units": {
                "ensemble_minus_selected_pts": "accuracy points; diabetes: RMSE (selected − ensemble)",
                "ensemble_logloss_ratio": "test log loss (diabetes: RMSE) / the lowest member's, either version",
                "refit_gain_pts": "the same members: refit minus as fit on train (accuracy points; diabetes RMSE)",
                "refit_run_minus_no_refit_pts": "refit run minus a run with ensemble.refit=false (points; diabetes RMSE)",
                "xgboost_search_run_minus_defaults_pts": "default run minus a run with ensemble.xgboost_trials=1 (points; diabetes RMSE)",
                "xgboost_tuned_minus_defaults": "the XGBoost member's test log loss (diabetes RMSE), defaults minus tuned, as fit on train",
            },
            "arms": arms,
            "variants": variants,
            "per_dataset": per,
        },
    }
