"""The wide & deep family: embeddings and hashed crosses over the table encoder's one-hot blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rayboost.data import Scaler, TrialData
from rayboost.data._table import TableEncoder, infer_typing
from rayboost.models import NetTrainer, default_params
from rayboost.models._nets import WideDeep, build_net, embedding_size
from rayboost.models._saved import NetModel
from rayboost.models._train import predict_output


def _xor_table(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The label is an interaction of two categories (exclusive or): no linear model of the
    one-hot columns can learn it; a cross or an embedding MLP can."""
    rng = np.random.default_rng(seed)
    a = rng.choice(["a0", "a1"], n)
    b = rng.choice(["b0", "b1", "b2"], n)
    noise = rng.normal(size=n)
    label = ((a == "a1") ^ (b == "b2")).astype(np.int64)
    return pd.DataFrame({"a": a, "b": b, "noise": noise}), label


def _encoded(n: int = 600) -> tuple[np.ndarray, np.ndarray, dict]:
    frame, y = _xor_table(n)
    rows = np.arange(n)
    typing = infer_typing(frame, rows, categorical=[], numeric=[], drop=[], max_levels=200)
    encoder = TableEncoder.fit(frame, rows, typing, min_frequency=1)
    X = encoder.transform(frame)
    return Scaler.fit(X).transform(X), y, encoder.layout()


def test_layout_lists_each_categorical_block():
    _, _, layout = _encoded(60)
    assert layout["categorical"] == [[0, 4], [4, 9]]  # a: 2 levels + other + missing; b: 3 + 2


def test_codes_are_read_from_standardized_one_hot_blocks():
    X, _, layout = _encoded(60)
    frame, _ = _xor_table(60)
    net = WideDeep((X.shape[1],), 2, default_params("wide_deep", "classification", 10), layout)
    codes = net._codes(torch.as_tensor(X))
    assert codes[0].tolist() == [["a0", "a1"].index(v) for v in frame["a"]]
    assert codes[1].tolist() == [["b0", "b1", "b2"].index(v) for v in frame["b"]]
    assert net.embeddings[1].embedding_dim == embedding_size(5, 1.0)
    assert len(net.pairs) == 1 and net.cross is not None


def test_wide_deep_learns_an_interaction_a_linear_model_cannot():
    X, y, layout = _encoded(800)
    train, val = np.arange(600), np.arange(600, 800)
    data = TrialData(X[train], y[train], X[val], y[val], "classification", 2, train, val, layout)
    params = {**default_params("wide_deep", "classification", 10), "lr": 1e-2}
    trainer = NetTrainer("wide_deep", params, data, seed=0, epochs=10)
    for _ in range(10):
        trainer.train_epoch()
        trainer.epoch += 1
    proba = predict_output(trainer.model, X[val], "classification")
    accuracy = float((proba.argmax(axis=1) == y[val]).mean())
    assert accuracy > 0.95
    from sklearn.linear_model import LogisticRegression

    linear = LogisticRegression(max_iter=1000).fit(X[train], y[train]).score(X[val], y[val])
    assert linear < 0.8  # the one-hot columns alone do not separate it


def test_saved_net_keeps_its_layout(tmp_path):
    X, y, layout = _encoded(60)
    params = default_params("wide_deep", "classification", 10)
    model = build_net("wide_deep", params, (X.shape[1],), 2, layout)
    state = {k: v.detach() for k, v in model.state_dict().items()}
    saved = NetModel(
        "wide_deep", params, (X.shape[1],), 2, "classification", 0.0, 1.0, state, layout
    )
    saved.save(tmp_path)
    again = NetModel.load(tmp_path)
    assert again.layout == layout
    assert np.array_equal(again.predict_output(X), saved.predict_output(X))


@pytest.mark.parametrize("levels_a, levels_b, buckets", [(3, 4, 1024), (40, 50, 64)])
def test_crosses_stay_within_their_pair_buckets(levels_a, levels_b, buckets):
    width = levels_a + levels_b + 1
    layout = {"categorical": [[0, levels_a], [levels_a, levels_a + levels_b]]}
    params = {**default_params("wide_deep", "classification", 10), "cross_buckets": buckets}
    net = WideDeep((width,), 3, params, layout)
    X = torch.zeros(50, width)
    X[torch.arange(50), torch.randint(0, levels_a, (50,))] = 1
    X[torch.arange(50), levels_a + torch.randint(0, levels_b, (50,))] = 1
    net.eval()
    assert net(X).shape == (50, 3)  # an index past the table would raise


def test_xgboost_takes_categorical_blocks_natively_and_gaps_as_missing(tmp_path):
    from rayboost.models import XGBoostModel

    frame, y = _xor_table(600)
    frame.loc[::7, "noise"] = np.nan
    rows = np.arange(600)
    typing = infer_typing(frame, rows, categorical=[], numeric=[], drop=[], max_levels=200)
    encoder = TableEncoder.fit(frame, rows, typing, min_frequency=1)
    layout = encoder.layout()
    assert layout["missing_flags"] == [[9, 10]]  # noise, then its "was missing" column
    X = Scaler.fit(encoder.transform(frame)).transform(encoder.transform(frame))
    model = XGBoostModel("classification", 2, {"max_depth": 2}, layout=layout)
    dmatrix = model._dmatrix(X)
    assert dmatrix.feature_types == ["q", "c", "c"] and dmatrix.num_col() == 3
    # stored sparse: the cells that were empty are absent again (XGBoost's missing values)
    assert dmatrix.get_data().nnz == 3 * 600 - int(frame["noise"].isna().sum())
    model.fit(X[:400], y[:400], X[400:], y[400:])
    assert (model.predict_output(X[400:]).argmax(axis=1) == y[400:]).mean() > 0.95
    model.save(tmp_path)
    again = XGBoostModel.load(tmp_path)
    assert again.layout == layout
    assert np.array_equal(again.predict_output(X), model.predict_output(X))
    refit = model.refit(X, y)
    assert refit.layout == layout and refit._dmatrix(X).feature_types == ["q", "c", "c"]


def test_the_wide_part_learns_at_its_own_rate():
    X, y, layout = _encoded(200)
    data = TrialData(
        X, y, X[:50], y[:50], "classification", 2, np.arange(200), np.arange(50), layout
    )
    params = {**default_params("wide_deep", "classification", 4), "wide_lr_mult": 3.0}
    trainer = NetTrainer("wide_deep", params, data, seed=0, epochs=4)
    wide = {id(p) for p in trainer.model.wide_parameters()}
    groups = trainer.optimizer.param_groups
    assert {id(p) for g in groups if g["lr_mult"] == 3.0 for p in g["params"]} == wide
    trainer.train_epoch()
    lrs = {g["lr_mult"]: g["lr"] for g in groups}
    assert lrs[3.0] == pytest.approx(3.0 * lrs[1.0])


def test_the_linear_wide_model_learns_the_interaction_from_its_crosses(tmp_path):
    from rayboost.models import LinearModel

    X, y, layout = _encoded(800)
    train, val = np.arange(600), np.arange(600, 800)
    plain = LinearModel("classification", 2).fit(X[train], y[train], X[val], y[val])
    wide = LinearModel("classification", 2, layout=layout).fit(X[train], y[train], X[val], y[val])
    assert wide.summary_["cross_columns"] == 4 * 5  # a (2 levels + 2) × b (3 + 2): exact
    accuracy = {
        name: float((m.predict_output(X[val]).argmax(axis=1) == y[val]).mean())
        for name, m in (("plain", plain), ("wide", wide))
    }
    assert accuracy["plain"] < 0.8 < 0.95 < accuracy["wide"], accuracy
    wide.save(tmp_path)
    again = LinearModel.load(tmp_path)
    assert np.array_equal(again.predict_output(X), wide.predict_output(X))
    refit = again.refit(X, y)
    assert refit.layout == layout and refit.predict_output(X[:3]).shape == (3, 2)


def test_crosses_are_capped_and_hashed():
    from rayboost.models._linear import MAX_CROSS_COLUMNS, crossed

    layout = {"categorical": [[0, 60], [60, 120], [120, 180]]}  # 3 pairs of 3,600 combinations
    X = np.zeros((10, 180), dtype=np.float32)
    X[:, [5, 70, 150]] = 1.0
    wide = crossed(X, layout, buckets=200)
    assert wide.shape[1] == 180 + 2 * 200  # the third pair would pass MAX_CROSS_COLUMNS
    assert 2 * 200 <= MAX_CROSS_COLUMNS < 3 * 200
    assert (wide[:, 180:].sum(axis=1) == 2).all()  # one hot column per crossed pair
