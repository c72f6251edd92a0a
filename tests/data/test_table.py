"""Mixed-type tables: typing, and an encoding fitted on the train rows only, saved as JSON and
applied unchanged to new rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rayboost._errors import DataError
from rayboost.config import DataConfig
from rayboost.data import encode_table, load_dataset, split_dataset
from rayboost.data._table import TableEncoder, infer_typing, needs_typing


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
            "rare": ["often"] * (n - 2) + ["seldom", "seldom"],
            "flag": pd.Series(rng.random(n) < 0.5, dtype=object),
            "when": [f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "x": rng.normal(size=n),
            "code": rng.integers(0, 4, n),
            "id": [f"row{i}" for i in range(n)],
        }
    )
    frame.loc[[3, 7], "colour"] = None
    frame.loc[[5], "x"] = np.nan
    frame.loc[[9], "flag"] = None
    return frame


TRAIN = np.arange(40)


def _fit(frame: pd.DataFrame, **over) -> TableEncoder:
    keys = {"categorical": [], "numeric": [], "drop": [], "max_levels": 200, **over}
    typing = infer_typing(frame, TRAIN, **keys)
    return TableEncoder.fit(frame, TRAIN, typing, min_frequency=3)


def test_columns_are_typed_from_their_values():
    typing = infer_typing(
        _frame(), TRAIN, categorical=["code"], numeric=[], drop=[], max_levels=200
    )
    assert typing.kinds == {
        "colour": "categorical",
        "rare": "categorical",
        "flag": "categorical",  # booleans (with a gap, read as objects)
        "when": "datetime",  # ISO 8601 text
        "x": "numeric",
        "code": "categorical",  # an integer column named in data.categorical
    }
    assert "identifier-like" in typing.dropped["id"]


def test_needs_typing_only_for_text_gaps_or_named_columns():
    numeric = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    assert not needs_typing(numeric, [], [])  # all-numeric tables keep the plain path
    assert needs_typing(numeric, ["b"], [])
    assert needs_typing(numeric.assign(a=[1.0, None]), [], [])
    assert needs_typing(numeric.assign(c=["u", "v"]), [], [])
    assert needs_typing(numeric.assign(c=[True, False]), [], [])


def test_the_encoding_is_fitted_on_train_rows_only():
    frame = _frame()
    before = _fit(frame).to_dict()
    changed = frame.copy()
    changed.loc[40:, "colour"] = "purple"  # a level only outside the train rows
    changed.loc[40:, "x"] = 1e6  # would move a median fitted on every row
    changed.loc[40:, "when"] = "1990-01-01"
    changed.loc[40:, "flag"] = None
    assert _fit(changed).to_dict() == before


def test_missing_cells_unseen_and_rare_levels():
    frame = _frame()
    encoder = _fit(frame)
    names = encoder.feature_names()
    new = frame.iloc[:3].copy()
    new.loc[0, "colour"] = "magenta"  # unseen
    new.loc[1, "colour"] = None  # missing
    new.loc[2, "x"] = None
    X = encoder.transform(new)
    row = dict(zip(names, X[0], strict=True))
    assert row["colour=other"] == 1 and row["colour=missing"] == 0
    assert dict(zip(names, X[1], strict=True))["colour=missing"] == 1
    median = float(frame["x"].iloc[TRAIN].median())
    third = dict(zip(names, X[2], strict=True))
    assert third["x"] == pytest.approx(median) and third["x=missing"] == 1
    assert "rare=seldom" not in names  # seen in fewer than min_frequency train rows
    assert {"when.year", "when.month", "when.dayofweek"} <= set(names)


def test_saved_and_reloaded_bit_identical():
    frame = _frame()
    encoder = _fit(frame)
    again = TableEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert again.to_dict() == encoder.to_dict()
    assert np.array_equal(again.transform(frame), encoder.transform(frame))
    # a file read back (types as pandas infers them from the CSV) encodes the same
    csv = pd.read_csv(pd.io.common.StringIO(frame.to_csv(index=False)))
    assert np.array_equal(encoder.transform(csv), encoder.transform(frame))


@pytest.mark.parametrize(
    "change, over, needle",
    [
        (lambda f: f.assign(empty=None), {}, "column 'empty' is empty in every row"),
        (
            lambda f: f,
            {"categorical": ["nope"]},
            "data.categorical: 'nope' is not a feature column",
        ),
        (lambda f: f, {"categorical": ["x"], "max_levels": 10}, "data.max_levels"),
        (lambda f: f, {"categorical": ["x"], "numeric": ["x"]}, "both data.categorical and"),
        (lambda f: f, {"numeric": ["colour"]}, "holds text"),
    ],
)
def test_bad_typing_is_one_clear_error(change, over, needle):
    with pytest.raises(DataError, match=needle):
        _fit(change(_frame()), **over)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda f: f.drop(columns=["x"]), "lacks feature columns the model was trained on: x"),
        (lambda f: f.assign(x=["text"] * len(f)), "column 'x' holds text"),
        (lambda f: f.assign(when=["soon"] * len(f)), "cannot read 'soon' as a date"),
        (lambda f: f.assign(x=np.inf), "infinite"),
    ],
)
def test_rows_to_predict_that_do_not_fit_the_encoding(change, needle):
    encoder = _fit(_frame())
    with pytest.raises(DataError, match=needle):
        encoder.transform(change(_frame().iloc[:5]), "new.csv")


def test_a_csv_with_text_dates_and_gaps_loads_and_encodes(tmp_path):
    frame = _frame(200).assign(label=np.tile(["a", "b"], 100))
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    cfg = DataConfig(path=str(path), label="label", min_frequency=3)
    dataset = load_dataset(cfg)
    assert dataset.table is not None and dataset.X.shape == (200, 0)
    split = split_dataset(dataset, 0, 0.2, 0.2)
    encoded = encode_table(dataset, split.train, cfg)
    assert encoded.X.shape[0] == 200 and encoded.X.dtype == np.float32
    assert np.isfinite(encoded.X).all()
    assert encoded.fingerprint() == dataset.fingerprint()  # the data as read
    assert encoded.input_shape == (len(encoded.encoder.feature_names()),)
    # the same rows read again encode the same (what a trial gets is what predict computes)
    assert np.array_equal(
        encoded.encoder.transform(pd.read_csv(path).iloc[split.test]), encoded.X[split.test]
    )


def test_the_bundled_penguins_table_is_typed():
    cfg = DataConfig(dataset="penguins")
    dataset = load_dataset(cfg)
    assert dataset.task == "classification" and dataset.classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert dataset.table is not None and dataset.table["sex"].isna().sum() > 0
    encoded = encode_table(dataset, split_dataset(dataset, 0, 0.2, 0.2).train, cfg)
    kinds = {c["name"]: c["kind"] for c in encoded.encoder.columns}
    assert kinds["island"] == kinds["sex"] == "categorical" and kinds["body_mass_g"] == "numeric"
    assert np.isfinite(encoded.X).all()


def test_the_family_follows_the_table():
    from rayboost._errors import ConfigError
    from rayboost._pipeline import _family
    from rayboost.config import load_config

    cfg = DataConfig(dataset="penguins")
    dataset = load_dataset(cfg)
    encoded = encode_table(dataset, split_dataset(dataset, 0, 0.2, 0.2).train, cfg)
    auto = load_config(overrides=["data.dataset=penguins"])
    assert _family(auto, encoded) == "wide_deep"  # categorical columns
    numeric = load_dataset(DataConfig(dataset="breast_cancer"))
    assert _family(load_config(overrides=["data.dataset=breast_cancer"]), numeric) == "mlp"
    digits = load_dataset(DataConfig(dataset="digits"))
    wide = load_config(overrides=["data.dataset=digits", "model.family=wide_deep"])
    with pytest.raises(ConfigError, match="wide_deep is for tables"):
        _family(wide, digits)
