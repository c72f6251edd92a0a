"""The "wide" side tuned: XGBoost configurations proposed by Ray Tune's TPE searcher (HyperOpt),
each boosted with early stopping on the validation rows, inside one Ray task that runs beside
the net trials; the best by validation log loss (RMSE) becomes the ensemble's ``xgboost`` member.

One task, not a Tune trial per configuration: a trial is an actor, a new process that imports
the trial modules (seconds on small machines), while most XGBoost fits on tables take well
under a second. The first configuration is XGBoost's defaults (with the user's
``ensemble.xgboost_params``) and always trains to its early stop, so the member is never worse
on validation than the untuned model. Under a time budget the search uses its share of the
cluster's time and then stops (see :func:`search_xgboost`).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from ray import tune
from ray.tune.search.hyperopt import HyperOptSearch

from rayboost.data import TrialData
from rayboost.models import XGBoostModel

__all__ = ["XGBOOST_SPACE", "XGBoostSearch", "first_config", "search_xgboost", "xgboost_score_name"]

XGBOOST_SPACE: dict[str, Any] = {
    "eta": tune.loguniform(0.01, 0.3),
    "max_depth": tune.randint(2, 11),  # 2..10
    "min_child_weight": tune.loguniform(0.5, 20.0),
    "subsample": tune.uniform(0.5, 1.0),
    "colsample_bytree": tune.uniform(0.3, 1.0),
    "lambda": tune.loguniform(0.1, 20.0),
}
"""What the search varies; a key the user fixes in ``ensemble.xgboost_params`` is left out."""
_DEFAULTS = {"min_child_weight": 1.0, "lambda": 1.0}  # XGBoost's own, for the first trial
RANDOM_START = 4
"""Configurations after the defaults that TPE draws at random before it models the scores."""


def xgboost_score_name(task: str) -> str:
    return "rmse" if task == "regression" else "log_loss"


def first_config(fixed: dict[str, Any]) -> dict[str, Any]:
    """The first configuration's searched keys: XGBoost's defaults for those the user left open."""
    base = {**XGBoostModel.default_params("regression"), **_DEFAULTS}  # the same for every task
    return {key: base[key] for key in XGBOOST_SPACE if key not in fixed}


class XGBoostSearch:
    """The configurations to try, one at a time: ``next()`` gives a config (or None when the
    search is over), ``tell()`` its validation score."""

    def __init__(self, fixed: dict[str, Any], n_trials: int, seed: int) -> None:
        self.fixed = dict(fixed)
        self.n_trials = n_trials
        self.first = first_config(self.fixed)
        space = {key: dist for key, dist in XGBOOST_SPACE.items() if key not in self.fixed}
        self._tpe = None
        if space:  # else the user fixed every searched key: one configuration
            self._tpe = HyperOptSearch(
                points_to_evaluate=[self.first],
                n_initial_points=1 + RANDOM_START,
                random_state_seed=seed,
            )
            self._tpe.set_search_properties("loss", "min", space)
        self.asked = 0

    def next(self) -> dict[str, Any] | None:
        if self.asked >= (self.n_trials if self._tpe is not None else 1):
            return None
        self.asked += 1
        suggested = self._tpe.suggest(str(self.asked)) if self._tpe is not None else {}
        return {**(suggested or {}), **self.fixed}

    def tell(self, loss: float) -> None:
        if self._tpe is not None:
            self._tpe.on_trial_complete(str(self.asked), {"loss": loss})


def search_xgboost(
    data: TrialData,
    fixed: dict[str, Any],
    n_trials: int,
    seed: int,
    n_threads: int,
    deadline: float | None = None,
) -> tuple[XGBoostModel, np.ndarray, list[dict[str, Any]]]:
    """Try up to ``n_trials`` configurations on ``data`` (train + validation rows only); return
    the best model by validation score, its validation predictions and one record per
    configuration (its parameters, rounds, score, seconds, ``chosen``).

    ``deadline`` (a ``time.time()``): after the first configuration, a new one starts only if
    the slowest so far would end before it, and boosting stops at it."""
    from rayboost.ensemble._weights import score as score_of  # here: trial workers never load it

    search = XGBoostSearch(fixed, n_trials, seed)
    n_classes = data.n_outputs if data.task == "classification" else None
    X_train, X_val = (
        data.X_train.reshape(len(data.X_train), -1),
        data.X_val.reshape(len(data.X_val), -1),
    )
    key = f"val_{xgboost_score_name(data.task)}"
    best: tuple[float, XGBoostModel, np.ndarray] | None = None
    records: list[dict[str, Any]] = []
    slowest = 0.0
    while (config := search.next()) is not None:
        if records and deadline is not None and time.time() + slowest >= deadline:
            break
        start = time.time()
        model = XGBoostModel(
            data.task,
            n_classes=n_classes,
            params=config,
            seed=seed,
            n_threads=n_threads,
            layout=getattr(data, "layout", None),
        )
        model.fit(X_train, data.y_train, X_val, data.y_val, deadline=deadline if records else None)
        val_pred = model.predict_output(X_val)
        score = score_of(val_pred, data.y_val, task=data.task)[xgboost_score_name(data.task)]
        search.tell(score)
        took = time.time() - start
        slowest = max(slowest, took)
        records.append(
            {
                "config": len(records) + 1,
                **{k: config[k] for k in sorted(config)},
                "best_iteration": model.summary_["best_iteration"],
                "n_rounds": model.summary_["n_rounds"],
                "deadline_stopped": model.summary_["deadline_stopped"],
                key: score,
                "fit_s": took,
                "chosen": False,
            }
        )
        if best is None or score < best[0]:
            best = (score, model, val_pred)
    assert best is not None  # the first configuration always runs
    chosen = min(range(len(records)), key=lambda i: (records[i][key], i))
    records[chosen]["chosen"] = True
    best[1].summary_ = {
        **best[1].summary_,
        "search_configs": len(records),
        "search_chosen": chosen + 1,
    }
    return best[1], best[2], records
