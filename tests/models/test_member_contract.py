"""One contract for every ensemble member kind (:class:`rayboost.models.MemberModel`): the same
tests run over nets (MLP and wide & deep), XGBoost and linear, for both tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rayboost._errors import DataError
from rayboost.data import Scaler
from rayboost.data._table import TableEncoder, infer_typing
from rayboost.models import MEMBER_KINDS, MemberModel, NetModel, default_params

N, TRAIN, VAL = 300, np.arange(0, 200), np.arange(200, 300)


def _table(task: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """A small mixed table, encoded and scaled as the pipeline does, with its layout."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], N).astype(object),
            "x": rng.normal(size=N),
            "z": rng.normal(size=N),
        }
    )
    frame.loc[::9, "x"] = np.nan
    signal = frame["x"].fillna(0).to_numpy() + (frame["colour"] == "red") * 1.5 + frame["z"]
    y = (signal > 0.5).astype(np.int64) if task == "classification" else signal.astype(np.float32)
    typing = infer_typing(frame, TRAIN, categorical=[], numeric=[], drop=[], max_levels=50)
    encoder = TableEncoder.fit(frame, TRAIN, typing, min_frequency=1)
    X = encoder.transform(frame)
    return Scaler.fit(X[TRAIN]).transform(X), y, encoder.layout()


def _make(kind: str, task: str, layout: dict, n_features: int) -> MemberModel:
    n_out = 2 if task == "classification" else 1
    if kind in ("mlp", "wide_deep"):
        params = {**default_params(kind, task, 8), "epochs": 8, "patience": 8}
        return NetModel.untrained(kind, params, (n_features,), n_out, task, layout, seed=0)
    if kind == "xgboost":
        return MEMBER_KINDS["xgboost"](
            task, 2 if task == "classification" else None, {"num_boost_round": 50}, layout=layout
        )
    return MEMBER_KINDS["linear"](task, 2 if task == "classification" else None)


KINDS = ["mlp", "wide_deep", "xgboost", "linear"]


def test_every_registered_kind_is_covered():
    assert set(MEMBER_KINDS) == {"net", "xgboost", "linear"}
    assert {"mlp", "wide_deep"} <= set(KINDS)  # the nets, in both table families


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("kind", KINDS)
def test_member_contract(kind, task, tmp_path):
    X, y, layout = _table(task)
    model = _make(kind, task, layout, X.shape[1])
    assert isinstance(model, MemberModel)
    assert MEMBER_KINDS[model.kind] is type(model)  # registered under its own kind

    fitted = model.fit(X[TRAIN], y[TRAIN], X[VAL], y[VAL])
    out = fitted.predict_output(X[VAL])
    if task == "classification":
        assert out.shape == (len(VAL), 2) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
        assert np.array_equal(fitted.predict_proba(X[VAL]), out)
        assert (out.argmax(axis=1) == y[VAL]).mean() > 0.75  # it learned something
    else:
        assert out.shape == (len(VAL), 1)
        with pytest.raises(DataError, match="predict_proba is for classification"):
            fitted.predict_proba(X[VAL])
        assert np.sqrt(np.mean((out[:, 0] - y[VAL]) ** 2)) < np.std(y[VAL])

    fitted.save(tmp_path / "saved")  # JSON plus the kind's safe format
    again = MEMBER_KINDS[fitted.kind].load(tmp_path / "saved")
    assert np.array_equal(again.predict_output(X), fitted.predict_output(X))

    rows = np.concatenate([TRAIN, VAL])
    refit = again.refit(X[rows], y[rows])  # what validation chose, on train + validation rows
    assert refit.kind == fitted.kind and refit is not again
    assert refit.predict_output(X[:5]).shape == out[:5].shape
