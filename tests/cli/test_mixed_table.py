"""A table as users have them (text, booleans, a date, empty cells) runs end to end with the
defaults, and new rows with an unseen level and empty cells are predicted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import rayboost

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
from test_cli import cli  # noqa: E402


def _mixed(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue", "violet"], n, p=[0.4, 0.3, 0.25, 0.05])
    region = rng.choice(["north", "south", "east"], n)
    member = rng.random(n) < 0.5
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    x = rng.normal(size=n)
    score = (
        x
        + 1.5 * (colour == "red")
        - (region == "south")
        + 0.8 * member
        + 0.7 * (when.month.to_numpy() > 6)
        + rng.normal(scale=0.5, size=n)
    )
    frame = pd.DataFrame(
        {
            "customer": [f"c{i:05d}" for i in range(n)],
            "colour": pd.Series(colour, dtype=object),
            "region": region,
            "member": pd.Series(member, dtype=object),
            "when": when.strftime("%Y-%m-%d"),
            "x": x,
            "label": np.where(score > 0.5, "yes", "no"),
        }
    )
    for column in ("colour", "member", "x"):
        frame.loc[rng.random(n) < 0.08, column] = None
    return frame


def test_a_mixed_table_runs_with_defaults_and_predicts_new_rows(tmp_path):
    path = tmp_path / "mixed.csv"
    _mixed(400).to_csv(path, index=False)
    storage = tmp_path / "store"
    run = cli(
        "run",
        "--set", f"data.path={path}",
        "--set", "data.label=label",
        "--set", "name=mixed",
        "--set", f"storage={storage}",
        "--set", "search.num_samples=3",
        "--set", "search.max_epochs=4",
        "--set", "search.time_budget_s=null",
        "--set", "ensemble.xgboost_trials=2",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "column 'customer' left out (identifier-like" in run.stdout
    assert "datetime: when" in run.stdout and "categorical: colour, region, member" in run.stdout
    assert "wide_deep nets" in run.stdout  # the family for tables with categorical columns

    exp = rayboost.load("mixed", storage=storage)
    assert exp.status == "completed"
    members = exp.members()
    assert {"net", "xgboost", "linear"} <= set(members["kind"])  # every member kind trained
    encoder = json.loads((storage / "mixed" / "encoder.json").read_text())
    assert [c["name"] for c in encoder["columns"]] == ["colour", "region", "member", "when", "x"]

    new = _mixed(6, seed=1).drop(columns=["label"])
    new.loc[0, "colour"] = "magenta"  # a level never seen in training
    new.loc[1, ["x", "region", "when"]] = None  # empty cells
    new_path = tmp_path / "new.csv"
    new.to_csv(new_path, index=False)
    out = tmp_path / "pred.csv"
    predicted = cli(
        "predict", "mixed", str(new_path), "--storage", str(storage), "--output", str(out)
    )
    assert predicted.returncode == 0, predicted.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 6 and set(frame["prediction"]) <= {"yes", "no"}
    assert np.allclose(frame[["proba_no", "proba_yes"]].sum(axis=1), 1.0)
    # the Python API takes the frame as it is and gives the same answers
    assert (exp.ensemble().predict(pd.read_csv(new_path)) == frame["prediction"].to_numpy()).all()

    # the ensemble can be fitted again from storage (the table is read, typed and encoded again)
    again = cli("ensemble", "mixed", "--storage", str(storage), "--method", "uniform", "--no-refit")
    assert again.returncode == 0, again.stderr[-2000:]

    lacking = tmp_path / "lacking.csv"
    new.drop(columns=["x"]).to_csv(lacking, index=False)
    refused = cli("predict", "mixed", str(lacking), "--storage", str(storage))
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .endswith("lacking.csv lacks feature columns the model was trained on: x")
    )
