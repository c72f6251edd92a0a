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
