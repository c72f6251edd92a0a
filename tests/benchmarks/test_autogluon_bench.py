"""The autogluon entry's own parts that need no AutoGluon: the tables written from a split's row
indices, the score arithmetic, and the one-line failure of a venv install (pip is not run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks import autogluon as bench  # noqa: E402
from rayboost.data import Dataset  # noqa: E402


def _images() -> Dataset:
    X = np.arange(6 * 1 * 2 * 2, dtype=np.float32).reshape(6, 1, 2, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    return Dataset("imgs", X, y, "classification", ["cat", "dog", "eel"], "label", None)


def test_split_tables_hold_the_split_rows_raw_with_original_labels(tmp_path):
    ds = _images()
    split = {"train": [0, 2, 4], "val": [1], "test": [5, 3]}
    paths = bench.write_split(ds, split, tmp_path / "job")
    train = pd.read_parquet(paths["train"])
    assert list(train.columns) == ["f0", "f1", "f2", "f3", "label"]
    np.testing.assert_array_equal(
        train[["f0", "f1", "f2", "f3"]].to_numpy(), ds.X[[0, 2, 4]].reshape(3, -1)
    )
    assert train["label"].tolist() == ["cat", "eel", "dog"]
    test = pd.read_parquet(paths["test"])  # the order of the indices is kept
    assert test["label"].tolist() == ["eel", "cat"] and test["f0"].tolist() == [20.0, 12.0]
    assert len(pd.read_parquet(paths["val"])) == 1


def test_tables_keep_feature_names_and_regression_targets():
    X = np.array([[1.5, 2.0], [3.0, 4.0]], dtype=np.float32)
    ds = Dataset(
        "reg",
        X,
        np.array([10.5, 20.25], dtype=np.float32),
        "regression",
        None,
        "target",
        ["age", "bmi"],
    )
    table = bench.frame(ds, [1, 0])
    assert list(table.columns) == ["age", "bmi", "label"]
    assert table["label"].tolist() == [20.25, 10.5] and table["age"].tolist() == [3.0, 1.5]
    clash = Dataset("bad", X, ds.y, "regression", None, "target", ["label", "bmi"])
    with pytest.raises(ValueError, match="label"):
        bench.frame(clash, [0])


def test_scores_and_comparison_are_rayboosts_definitions():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    y = np.array([0, 1, 1])
    s = bench.side_scores(proba, y, "classification")
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4])))
    assert bench.side_scores(np.array([1.0, 3.0]), np.array([2.0, 3.0]), "regression")[
        "rmse"
    ] == pytest.approx(np.sqrt(0.5))
    c = bench.compare(
        {"accuracy": 0.97, "log_loss": 0.1}, {"accuracy": 0.95, "log_loss": 0.2}, "classification"
    )
    assert c["minus_autogluon_pts"] == pytest.approx(2.0)
    assert c["logloss_ratio_vs_autogluon"] == pytest.approx(0.5)
    # regression: positive = rayboost's RMSE is the lower one
    r = bench.compare({"rmse": 50.0}, {"rmse": 53.5}, "regression")
    assert r == {"minus_autogluon_pts": pytest.approx(3.5), "logloss_ratio_vs_autogluon": None}
    assert bench.compare({}, {"accuracy": 0.9}, "classification")["minus_autogluon_pts"] is None


def test_failed_install_is_one_line_and_leaves_no_marker(tmp_path, monkeypatch):
    calls = []

    def fail(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0 if len(calls) == 1 else 1)

    monkeypatch.setattr(bench.subprocess, "run", fail)
    venv = tmp_path / "ag-venv"
    with pytest.raises(RuntimeError) as err:
        bench.ensure_venv(venv)
    message = str(err.value)
    assert "\n" not in message and "cannot create the AutoGluon venv" in message
    assert "torch==" in message and "install.log" in message
    assert not (venv / bench.MARKER).exists()
    assert calls[0][1:3] == ["-m", "venv"] and calls[1][-1] == f"torch=={bench.TORCH_VERSION}"


def _mixed(tmp_path) -> tuple[Dataset, pd.DataFrame]:
    """The benchmark's mixed table (a small one), loaded the way the entry loads it."""
    from benchmarks._common import MIXED_LABEL, load_data
    from examples.make_mixed_csv import write_csv

    path = write_csv(tmp_path / "mixed.csv", rows=400, seed=3)
    ds = load_data({"data.path": str(path), "data.label": MIXED_LABEL})
    return ds, pd.read_csv(path)


def test_mixed_tables_reach_autogluon_as_read_with_the_split_rows(tmp_path):
    ds, raw = _mixed(tmp_path)
    assert ds.table is not None and ds.X.shape[1] == 0  # not encoded: no split yet
    split = {"train": list(range(0, 400, 2)), "val": [5, 3, 1], "test": [399, 7, 11, 42]}
    paths = bench.write_split(ds, split, tmp_path / "job")
    features = [c for c in raw.columns if c != "churned"]
    for part, rows in split.items():
        table = pd.read_parquet(paths[part])
        assert list(table.columns) == [*features, "label"]  # the identifier too
        expected = raw.iloc[rows].reset_index(drop=True)
        assert table["customer_id"].tolist() == expected["customer_id"].tolist()
        assert table["label"].tolist() == expected["churned"].tolist()
        for column in features:  # values and empty cells exactly as in the file
            got, want = table[column], expected[column]
            assert got.isna().tolist() == want.isna().tolist(), column
            assert got[got.notna()].tolist() == want[want.notna()].tolist(), column
    train = pd.read_parquet(paths["train"])
    assert train["signup_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()  # dates as text
    assert set(train["is_member"].dropna()) == {True, False}  # booleans, not encoded numbers
    assert train["plan"].map(type).eq(str).all()
    for column in ("channel", "is_member", "age"):  # the empty cells are kept
        assert train[column].isna().any(), column
    assert not any("=" in c for c in train.columns)  # no one-hot columns of rayboost's


def test_mixed_table_fingerprint_is_the_raw_tables_and_stable(tmp_path):
    ds, _ = _mixed(tmp_path)
    again, _ = _mixed(tmp_path)
    assert ds.fingerprint() == again.fingerprint()
    changed = ds.table.copy()
    changed.loc[0, "plan"] = "other-plan"
    assert Dataset(**{**ds.__dict__, "table": changed}).fingerprint() != ds.fingerprint()


def test_penguins_rows_are_raw_with_missing_cells(tmp_path):
    from benchmarks._common import load_data

    ds = load_data({"data.dataset": "penguins"})
    split = {"train": [0, 3, 8], "val": [1], "test": [2]}  # row 3: every measurement empty
    train = pd.read_parquet(bench.write_split(ds, split, tmp_path / "job")["train"])
    assert {"island", "sex", "bill_length_mm", "label"} <= set(train.columns)
    assert train["island"].map(type).eq(str).all()
    assert pd.isna(train.loc[1, "bill_length_mm"]) and pd.isna(train.loc[1, "sex"])
    assert train["label"].tolist() == [ds.classes[i] for i in ds.y[[0, 3, 8]]]


def test_dataset_and_seed_selection(monkeypatch):
    monkeypatch.delenv(bench.DATASETS_ENV, raising=False)
    monkeypatch.delenv(bench.SEEDS_ENV, raising=False)
    datasets, seeds = bench.selection()
    assert {"penguins", "mixed", "digits", "pixels"} <= set(datasets) and seeds == (0, 1, 2, 3, 4)
    assert bench.selection(quick=True) == (("digits",), (0,))
    monkeypatch.setenv(bench.DATASETS_ENV, "penguins, mixed")
    monkeypatch.setenv(bench.SEEDS_ENV, "3,4")
    assert bench.selection() == (("penguins", "mixed"), (3, 4))
    monkeypatch.setenv(bench.DATASETS_ENV, "penguin")
    with pytest.raises(ValueError, match="unknown dataset 'penguin'"):
        bench.selection()
    monkeypatch.setenv(bench.DATASETS_ENV, "mixed")
    monkeypatch.setenv(bench.SEEDS_ENV, "one")
    with pytest.raises(ValueError, match="integers"):
        bench.selection()


def test_mixed_csv_is_seeded_and_has_the_promised_columns(tmp_path):
    from examples.make_mixed_csv import bayes_accuracy, make_table, write_csv

    a = pd.read_csv(write_csv(tmp_path / "a.csv", rows=2000, seed=1))
    b = pd.read_csv(write_csv(tmp_path / "b.csv", rows=2000, seed=1))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(pd.read_csv(write_csv(tmp_path / "c.csv", rows=2000, seed=2)))
    assert a["customer_id"].nunique() == len(a)
    assert [a[c].nunique() for c in ("plan", "region", "channel")] == [3, 5, 8]
    assert 30 <= a["city"].nunique() <= 50 and a["city"].value_counts().min() < 5  # rare levels
    assert a["signup_date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert set(a["is_member"].dropna()) == {True, False}
    for column in ("channel", "is_member", "age"):
        assert 0.04 <= a[column].isna().mean() <= 0.11, column
    assert set(a["churned"]) == {"yes", "no"} and 0.2 < (a["churned"] == "yes").mean() < 0.45
    _, p = make_table(2000, seed=1)
    assert 0.84 <= bayes_accuracy(p) <= 0.9
