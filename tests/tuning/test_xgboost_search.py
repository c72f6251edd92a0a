"""XGBoost's search: TPE over its parameters, early stopping on validation, a deadline, the best
configuration by validation score; real XGBoost and HyperOpt, no Ray needed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rayboost.config import DataConfig
from rayboost.data import Scaler, load_dataset, make_trial_data, split_dataset
from rayboost.models import XGBoostModel
from rayboost.tuning import XGBOOST_SPACE, XGBoostSearch, search_xgboost
from rayboost.tuning._xgboost import first_config


def _data(name: str):
    dataset = load_dataset(DataConfig(dataset=name))
    split = split_dataset(dataset, 0, 0.2, 0.2)
    return make_trial_data(dataset, split, Scaler.fit(dataset.X[split.train]))


@pytest.fixture(scope="module")
def bc():
    return _data("breast_cancer")


def _log_loss(pred: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(pred[np.arange(len(y)), y], 1e-15, 1))))


def test_first_configuration_is_xgboosts_defaults_then_tpe_proposes_others(bc):
    model, val_pred, records = search_xgboost(bc, {}, 6, seed=0, n_threads=1)
    assert [r["config"] for r in records] == [1, 2, 3, 4, 5, 6]
    defaults = {
        **XGBoostModel.default_params("classification"),
        "min_child_weight": 1.0,
        "lambda": 1.0,
    }
    assert {k: records[0][k] for k in XGBOOST_SPACE} == {k: defaults[k] for k in XGBOOST_SPACE}
    others = [{k: r[k] for k in XGBOOST_SPACE} for r in records[1:]]
    assert all(o != {k: records[0][k] for k in XGBOOST_SPACE} for o in others)
    for r in records[1:]:  # inside the space
        assert 0.01 <= r["eta"] <= 0.3 and 2 <= r["max_depth"] <= 10 and 0.5 <= r["subsample"] <= 1
        assert (
            0.3 <= r["colsample_bytree"] <= 1
            and 0.5 <= r["min_child_weight"] <= 20
            and 0.1 <= r["lambda"] <= 20
        )


def test_the_member_is_the_configuration_with_the_lowest_validation_log_loss(bc):
    model, val_pred, records = search_xgboost(bc, {}, 6, seed=0, n_threads=1)
    scores = [r["val_log_loss"] for r in records]
    chosen = [r for r in records if r["chosen"]]
    assert len(chosen) == 1 and chosen[0]["val_log_loss"] == min(scores)
    assert _log_loss(val_pred, bc.y_val) == pytest.approx(min(scores))
    np.testing.assert_allclose(model.predict_output(bc.X_val), val_pred)
    assert model.best_iteration_ == chosen[0]["best_iteration"]
    assert (
        model.summary_["search_configs"] == 6
        and model.summary_["search_chosen"] == chosen[0]["config"]
    )
    assert len(set(scores)) > 1  # the configurations differ in what they learn


def test_regression_chooses_on_validation_rmse():
    data = _data("diabetes")
    model, val_pred, records = search_xgboost(data, {}, 4, seed=1, n_threads=1)
    rmse = float(np.sqrt(np.mean((val_pred[:, 0] - data.y_val) ** 2)))
    assert rmse == pytest.approx(min(r["val_rmse"] for r in records))
    assert [r for r in records if r["chosen"]][0]["val_rmse"] == pytest.approx(rmse)


def test_user_parameters_are_fixed_in_every_configuration(bc):
    fixed = {"max_depth": 3, "eta": 0.2}
    _, _, records = search_xgboost(bc, fixed, 4, seed=0, n_threads=1)
    assert all(r["max_depth"] == 3 and r["eta"] == 0.2 for r in records)
    assert len({r["subsample"] for r in records}) > 1  # the others are still searched
    assert first_config(fixed) == {
        "min_child_weight": 1.0,
        "subsample": 0.9,
        "colsample_bytree": 0.8,
        "lambda": 1.0,
    }


def test_everything_fixed_means_one_configuration(bc):
    fixed = {
        "eta": 0.1,
        "max_depth": 4,
        "min_child_weight": 2,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "lambda": 2,
    }
    search = XGBoostSearch(fixed, 16, seed=0)
    assert search.next() == fixed and search.next() is None
    _, _, records = search_xgboost(bc, fixed, 16, seed=0, n_threads=1)
    assert len(records) == 1 and records[0]["chosen"]


def test_a_passed_deadline_leaves_the_defaults_trained_to_their_early_stop(bc):
    _, _, untimed = search_xgboost(bc, {}, 1, seed=0, n_threads=1)
    model, _, records = search_xgboost(bc, {}, 16, seed=0, n_threads=1, deadline=time.time() - 1)
    assert len(records) == 1 and not records[0]["deadline_stopped"]
    assert records[0]["best_iteration"] == untimed[0]["best_iteration"]
    assert records[0]["val_log_loss"] == pytest.approx(untimed[0]["val_log_loss"])
    assert model.summary_["early_stopped"]


def test_deadline_stops_boosting_and_keeps_the_best_round(bc):
    model = XGBoostModel("classification", n_classes=2, params={"eta": 0.01}, seed=0)
    model.fit(bc.X_train, bc.y_train, bc.X_val, bc.y_val, deadline=time.time())
    s = model.summary_
    assert s["deadline_stopped"] and not s["early_stopped"]
    assert s["n_rounds"] == 1 and s["best_iteration"] == 0
    assert model.predict_output(bc.X_val).shape == (len(bc.y_val), 2)


def test_deadline_during_the_search_stops_starting_configurations(bc):
    _, _, one = search_xgboost(bc, {"eta": 0.01}, 1, seed=0, n_threads=1)
    budget = max(2.0, 4 * one[0]["fit_s"])
    start = time.time()
    _, _, records = search_xgboost(
        bc, {"eta": 0.01}, 500, seed=0, n_threads=1, deadline=start + budget
    )
    took = time.time() - start
    assert 1 < len(records) < 500
    # no configuration starts unless the slowest so far would end by the deadline, and boosting
    # stops at it: the search ends within one configuration's time after it
    assert took < budget + max(r["fit_s"] for r in records) + 1.0
