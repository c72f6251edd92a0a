"""XGBoost and linear model families on small sklearn datasets (real fits, no mocks)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from rayboost.models._linear import LinearModel
from rayboost.models._xgboost import XGBoostModel

FAMILIES = {"xgboost": XGBoostModel, "linear": LinearModel}
LOADERS = {
    "breast_cancer": (load_breast_cancer, "classification"),
    "digits": (load_digits, "classification"),
    "diabetes": (load_diabetes, "regression"),
}
Split = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@cache
def _split(name: str) -> Split:
    """Seeded train / validation / test split (60 / 20 / 20)."""
    loader, task = LOADERS[name]
    X, y = loader(return_X_y=True)
    stratify = y if task == "classification" else None
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0, stratify=stratify
    )
    stratify = y_rest if task == "classification" else None
    X_tr, X_val, y_tr, y_val = train_test_split(
        X_rest, y_rest, test_size=0.25, random_state=0, stratify=stratify
    )
    return X_tr, y_tr, X_val, y_val, X_test, y_test


@cache
def _fitted(family: str, name: str) -> XGBoostModel | LinearModel:
    X_tr, y_tr, X_val, y_val, _, _ = _split(name)
    return FAMILIES[family](LOADERS[name][1], seed=0, n_threads=2).fit(X_tr, y_tr, X_val, y_val)


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_scores_shapes_and_round_trip(family: str, name: str, tmp_path: Path) -> None:
    model = _fitted(family, name)
    task = LOADERS[name][1]
    X_test, y_test = _split(name)[4:]
    out = model.predict_output(X_test)
    if task == "classification":
        n_classes = int(y_test.max()) + 1
        assert out.shape == (len(y_test), n_classes)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
        assert out.min() >= 0.0
        accuracy = float(np.mean(out.argmax(axis=1) == y_test))
        assert accuracy >= (0.9 if name == "breast_cancer" else 0.93), accuracy
    else:
        assert out.shape == (len(y_test), 1)
        assert r2_score(y_test, out[:, 0]) >= 0.3
    model.save(tmp_path)
    loaded = type(model).load(tmp_path)
    again = loaded.predict_output(X_test)
    if family == "xgboost":
        np.testing.assert_array_equal(again, out)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json", "model.ubj"]
    else:
        np.testing.assert_allclose(again, out, rtol=0, atol=1e-10)
        assert [p.name for p in tmp_path.iterdir()] == ["model.json"]
    assert loaded.summary_ == model.summary_


@pytest.mark.parametrize("family", list(FAMILIES))
def test_image_shaped_input_is_flattened(family: str) -> None:
    X_tr, y_tr, X_val, y_val, X_test, y_test = _split("digits")
    flat = _fitted(family, "digits")
    image = FAMILIES[family]("classification", seed=0, n_threads=2).fit(
        X_tr.reshape(-1, 1, 8, 8), y_tr, X_val.reshape(-1, 1, 8, 8), y_val
    )
    out = image.predict_output(X_test.reshape(-1, 1, 8, 8))
    assert out.shape == (len(y_test), 10)
    np.testing.assert_allclose(out, flat.predict_output(X_test), atol=1e-12)
    assert image.summary_["n_features"] == 64
    with pytest.raises(ValueError, match="64"):
        image.predict_output(X_test[:, :32])


def test_xgboost_early_stopping_uses_best_iteration() -> None:
    model = _fitted("xgboost", "breast_cancer")
    summary = model.summary_
    assert summary["early_stopped"]
    assert summary["best_iteration"] < summary["n_rounds"] < summary["num_boost_round"] == 2000
    assert summary["n_rounds"] == summary["best_iteration"] + 1 + 30  # patience of 30 rounds
    X_test = _split("breast_cancer")[4]
    p1 = model.booster_.predict(
        xgb.DMatrix(X_test), iteration_range=(0, summary["best_iteration"] + 1)
    )
    np.testing.assert_allclose(model.predict_output(X_test)[:, 1], p1, atol=1e-7)
    all_trees = model.booster_.predict(xgb.DMatrix(X_test))
    assert not np.array_equal(all_trees, p1)  # the extra patience rounds are not used


def test_xgboost_params_override_and_validation() -> None:
    X_tr, y_tr, X_val, y_val, _, _ = _split("diabetes")
    # search spaces (hyperopt quniform) hand over whole numbers as floats
    params = {"max_depth": 3.0, "num_boost_round": 40, "early_stopping_rounds": 0}
    model = XGBoostModel("regression", params=params).fit(X_tr, y_tr, X_val, y_val)
    assert model.summary_["n_rounds"] == 40 and model.summary_["best_iteration"] == 39
    assert not model.summary_["early_stopped"]
    with pytest.raises(ValueError, match="objective"):
        XGBoostModel("regression", params={"objective": "reg:absoluteerror"}).fit(
            X_tr, y_tr, X_val, y_val
        )
    with pytest.raises(ValueError, match="whole number"):
        XGBoostModel("regression", params={"max_depth": 3.5}).fit(X_tr, y_tr, X_val, y_val)
    with pytest.raises(ValueError, match="n_classes is only for classification"):
        XGBoostModel("regression", n_classes=3).fit(X_tr, y_tr, X_val, y_val)
    with pytest.raises(ValueError, match="task"):
        XGBoostModel.default_params("ranking")
    with pytest.raises(ValueError, match="not fitted"):
        XGBoostModel("regression").predict_output(X_val)


def test_xgboost_keeps_nan_as_missing() -> None:
    X_tr, y_tr, X_val, y_val, X_test, _ = _split("breast_cancer")
    X_tr = X_tr.copy()
    X_tr[::7, 0] = np.nan
    params = {"num_boost_round": 20}
    model = XGBoostModel("classification", params=params).fit(X_tr, y_tr, X_val, y_val)
    assert np.all(np.isfinite(model.predict_output(X_test)))
    with pytest.raises(ValueError, match="NaN"):
        LinearModel("classification").fit(X_tr, y_tr, X_val, y_val)


def test_linear_choice_matches_an_independent_validation_search() -> None:
    X_tr, y_tr, X_val, y_val, X_test, _ = _split("breast_cancer")
    model = _fitted("linear", "breast_cancer")
    grid = LinearModel.default_params("classification")["C_grid"]
    scaler = StandardScaler().fit(X_tr)
    fits = [LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(X_tr), y_tr) for c in grid]
    losses = [log_loss(y_val, f.predict_proba(scaler.transform(X_val))) for f in fits]
    best = int(np.argmin(losses))
    assert model.summary_["C"] == grid[best]
    np.testing.assert_allclose(model.summary_["grid_val_losses"], losses, rtol=1e-6)
    expected = fits[best].predict_proba(scaler.transform(X_test))
    np.testing.assert_allclose(model.predict_output(X_test), expected, atol=1e-9)


def test_linear_regression_matches_sklearn_ridge() -> None:
    X_tr, y_tr, X_val, y_val, X_test, _ = _split("diabetes")
    model = _fitted("linear", "diabetes")
    grid = LinearModel.default_params("regression")["alpha_grid"]
    scaler = StandardScaler().fit(X_tr)
    fits = [Ridge(alpha=a).fit(scaler.transform(X_tr), y_tr) for a in grid]
    losses = [mean_squared_error(y_val, f.predict(scaler.transform(X_val))) for f in fits]
    best = int(np.argmin(losses))
    assert model.summary_["alpha"] == grid[best]
    expected = fits[best].predict(scaler.transform(X_test))
    np.testing.assert_allclose(model.predict_output(X_test)[:, 0], expected, atol=1e-8)


def test_linear_pads_classes_missing_from_train(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] > 0).astype(int) * 2  # labels 0 and 2 only
    model = LinearModel("classification", n_classes=4, params={"C_grid": [1.0]})
    model.fit(X[:80], y[:80], X[80:], y[80:])
    out = model.predict_output(X[80:])
    assert out.shape == (40, 4)
    np.testing.assert_array_equal(out[:, [1, 3]], 0.0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    model.save(tmp_path)
    np.testing.assert_allclose(LinearModel.load(tmp_path).predict_output(X[80:]), out, atol=1e-10)


def test_linear_validates_params_and_labels() -> None:
    X_tr, y_tr, X_val, y_val, _, _ = _split("breast_cancer")
    with pytest.raises(ValueError, match="valid keys"):
        LinearModel("classification", params={"alpha_grid": [1.0]}).fit(X_tr, y_tr, X_val, y_val)
    with pytest.raises(ValueError, match="positive numbers"):
        LinearModel("classification", params={"C_grid": [0.0]}).fit(X_tr, y_tr, X_val, y_val)
    with pytest.raises(ValueError, match="n_classes must be an integer"):
        LinearModel("classification", n_classes=1).fit(X_tr, y_tr, X_val, y_val)
    with pytest.raises(ValueError, match="integer class indices"):
        LinearModel("classification").fit(X_tr, y_tr + 0.5, X_val, y_val)
    with pytest.raises(ValueError, match="one per row"):
        LinearModel("classification").fit(X_tr, y_tr[:-1], X_val, y_val)
    with pytest.raises(ValueError, match="no linear model"):
        LinearModel.load(Path("/nonexistent/rayboost"))


@pytest.mark.parametrize("name", list(LOADERS))
@pytest.mark.parametrize("family", list(FAMILIES))
def test_refit_on_train_and_validation_keeps_what_validation_chose(
    family: str, name: str, tmp_path: Path
) -> None:
    model = _fitted(family, name)
    X_tr, y_tr, X_val, y_val, X_test, _ = _split(name)
    X_all, y_all = np.concatenate([X_tr, X_val]), np.concatenate([y_tr, y_val])
    again = model.refit(X_all, y_all)
    assert again.summary_["refit_rows"] == len(X_all)
    if family == "xgboost":  # the rounds early stopping chose, trained without a held-out split
        assert (
            again.booster_.num_boosted_rounds()
            == model.best_iteration_ + 1
            == again.summary_["refit_rounds"]
        )
        expected = xgb.train(
            {**again._booster_params()[0]},
            xgb.DMatrix(X_all, label=y_all, nthread=2),
            model.best_iteration_ + 1,
        )
        raw = expected.predict(xgb.DMatrix(X_test, nthread=2))
        ours = again.predict_output(X_test)
        np.testing.assert_allclose(
            ours[:, -1] if raw.ndim == 1 and ours.shape[1] == 2 else ours.reshape(raw.shape),
            raw,
            rtol=1e-5,
            atol=1e-6,
        )
    else:  # the C / alpha validation chose, fit on every given row
        assert again.chosen_ == model.chosen_
        value = next(iter(model.chosen_.values()))
        ref = (
            LogisticRegression(C=value, max_iter=2000)
            if LOADERS[name][1] == "classification"
            else Ridge(alpha=value)
        )
        scaler = StandardScaler().fit(X_all)
        ref.fit(scaler.transform(X_all), y_all)
        want = (
            ref.predict_proba(scaler.transform(X_test))
            if LOADERS[name][1] == "classification"
            else ref.predict(scaler.transform(X_test))[:, None]
        )
        np.testing.assert_allclose(again.predict_output(X_test), want, rtol=1e-4, atol=1e-5)
    assert not np.allclose(again.predict_output(X_test), model.predict_output(X_test))
    again.save(tmp_path)  # saved and loaded like any member
    np.testing.assert_array_equal(
        type(again).load(tmp_path).predict_output(X_test), again.predict_output(X_test)
    )


@pytest.mark.parametrize(
    "params, needle",
    [
        ({"max_dept": 4}, "unknown XGBoost parameter 'max_dept' (did you mean max_depth?)"),
        ({"objective": "reg:tweedie"}, "objective is set by rayboost"),
        ({"eta": float("nan")}, "finite"),
        ({"max_depth": 4.5}, "whole number"),
    ],
)
def test_xgboost_params_checked_before_any_training(params, needle) -> None:
    from rayboost._errors import ConfigError
    from rayboost.models._xgboost import check_params

    with pytest.raises(ConfigError) as info:
        check_params(params)
    assert needle in str(info.value)
    check_params({"max_depth": 4, "eta": 0.05, "num_boost_round": 800, "reg_lambda": 2.0})
