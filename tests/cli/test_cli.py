"""The command line, as a user runs it: real processes, real Ray, exit codes, files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rayboost", *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=600,
    )


def test_bad_config_key_is_one_line_exit_2_and_writes_nothing(tmp_path):
    out = cli(
        "run",
        "--set",
        "data.dataset=digits",
        "--set",
        "search.num_sample=3",
        "--set",
        f"storage={tmp_path}/s",
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "search.num_sample" in lines[0] and "num_samples" in lines[0]
    assert not (tmp_path / "s").exists()


def test_bad_inputs_exit_2_with_a_helpful_line(tmp_path):
    csv = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0] * 10, "b": [0, 1] * 10}).to_csv(csv, index=False)
    cases = [
        (["--set", "data.dataset=digits", "--set", "search.algorithm=bayes"], "search.algorithm"),
        (["--set", f"data.path={tmp_path}/missing.csv"], "does not exist"),
        (["--set", f"data.path={csv}", "--set", "data.label=target"], "columns are: a, b"),
        (
            [
                "--set",
                f"data.path={csv}",
                "--set",
                "data.label=b",
                "--set",
                "data.image_shape=1,2,2",
            ],
            "image_shape",
        ),
        (
            ["--set", "data.dataset=digits", "--set", "search.space={bn: sideways}"],
            "search.space.bn",
        ),
        (
            ["--set", "data.dataset=digits", "--set", "resources.cpus_per_trial=99"],
            "cpus_per_trial",
        ),
        ([str(tmp_path / "nope.yaml")], "not found"),
        (
            ["--set", "data.dataset=digits", "--set", "ray.address=127.0.0.1:1"],
            "cannot connect",
        ),  # no silent retries
    ]
    for args, needle in cases:
        out = cli("run", *args, "--set", f"storage={tmp_path}/s")
        assert out.returncode == 2, (args, out.stderr[-2000:])
        assert len(out.stderr.strip().splitlines()) == 1 and needle in out.stderr, (
            args,
            out.stderr,
        )
    assert not (tmp_path / "s").exists()


def test_name_arguments_cannot_leave_the_storage_folder(tmp_path):
    storage, outside = tmp_path / "store", tmp_path / "outside"
    storage.mkdir()
    outside.mkdir()
    (outside / "experiment.json").write_text('{"name": "outside", "status": "completed"}')
    before = sorted(p.name for p in outside.rglob("*"))
    cases = [
        ("results", "../outside"),
        ("ensemble", "../outside", "--method", "uniform"),
        ("resume", "../outside"),
        ("predict", str(outside), str(tmp_path / "rows.csv")),
        ("results", ".."),
    ]
    for args in cases:
        out = cli(*args, "--storage", str(storage))
        assert out.returncode == 2, (args, out.stderr[-2000:])
        lines = out.stderr.strip().splitlines()
        assert (
            len(lines) == 1 and "experiment name" in lines[0] and "plain folder name" in lines[0]
        ), (args, lines)
    assert sorted(p.name for p in outside.rglob("*")) == before and not any(storage.iterdir())


def test_storage_that_is_a_file(tmp_path):
    store = tmp_path / "store"
    store.write_text("not a folder")
    for args in (
        ["run", "--set", "data.dataset=digits", "--set", f"storage={store}"],
        ["results", "--storage", str(store)],
    ):
        out = cli(*args)
        assert out.returncode == 2 and "is a file, not a folder" in out.stderr, out.stderr[-2000:]
        assert len(out.stderr.strip().splitlines()) == 1
    assert store.read_text() == "not a folder"


def _pixel_csv(path: Path, n: int = 300) -> None:
    """28×28 images: scikit-learn's digits scaled up 3× and padded, one pixel per column."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.kron(digits.images[:n], np.ones((3, 3)))  # 24×24
    images = np.pad(images, ((0, 0), (2, 2), (2, 2)))  # 28×28
    frame = pd.DataFrame(images.reshape(n, -1), columns=[f"px{i}" for i in range(784)])
    frame.insert(0, "label", digits.target[:n])
    frame.to_csv(path, index=False)


def test_pixel_csv_runs_end_to_end_and_results_are_queryable(tmp_path):
    csv = tmp_path / "pixels.csv"
    _pixel_csv(csv)
    storage = tmp_path / "store"
    out = cli(
        "run",
        "--set",
        f"data.path={csv}",
        "--set",
        "data.label=label",
        "--set",
        "data.image_shape=1,28,28",
        "--set",
        "search.num_samples=2",
        "--set",
        "search.max_epochs=2",
        "--set",
        f"storage={storage}",
        "--set",
        "name=pixels",
        "--set",
        "ray.num_cpus=2",
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Leaderboard" in out.stdout and "test split" in out.stdout
    summary = json.loads((storage / "pixels" / "summary.json").read_text())
    assert summary["family"] == "cnn" and summary["split_sizes"] == {
        "train": 180,
        "val": 60,
        "test": 60,
    }
    meta = json.loads((storage / "pixels" / "experiment.json").read_text())
    assert meta["input_shape"] == [1, 28, 28] and meta["status"] == "completed"

    res = cli("results", "pixels", "--storage", str(storage), "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert len(rows) == 2 and {"trial_id", "param_conv", "best_val_accuracy"} <= set(rows[0])
    res = cli(
        "results", "pixels", "--storage", str(storage), "--table", "epochs", "--format", "csv"
    )
    assert res.returncode == 0 and res.stdout.startswith("trial_id,epoch,")
    res = cli("results", "--table", "experiments", "--storage", str(storage))
    assert res.returncode == 0 and "pixels" in res.stdout
    res = cli("results", "pixels", "--storage", str(storage), "--table", "members")
    assert res.returncode == 0 and "xgboost" in res.stdout and "ensemble" in res.stdout
    tried = json.loads(
        cli(
            "results", "pixels", "--storage", str(storage), "--table", "xgboost", "--format", "json"
        ).stdout
    )
    assert (
        tried
        and sum(r["chosen"] for r in tried) == 1
        and {"eta", "max_depth", "val_log_loss"} <= set(tried[0])
    )

    # predict new rows from a pixel CSV (the label column is ignored), with the saved ensemble
    res = cli(
        "predict",
        "pixels",
        str(csv),
        "--storage",
        str(storage),
        "--output",
        str(tmp_path / "p.csv"),
    )
    assert res.returncode == 0, res.stderr
    pred = pd.read_csv(tmp_path / "p.csv")
    assert len(pred) == 300 and list(pred.columns) == [
        "prediction",
        *[f"proba_{c}" for c in range(10)],
    ]
    np.testing.assert_allclose(pred.filter(like="proba_").sum(axis=1), 1.0, atol=1e-6)

    # re-weight without retraining, then bad weights: one line, exit 2, the ensemble kept as it was
    res = cli(
        "ensemble",
        "pixels",
        "--storage",
        str(storage),
        "--method",
        "weights",
        "--weights",
        "net_1=1,linear=1",
    )
    assert res.returncode == 0, res.stderr
    members = json.loads(
        cli(
            "results", "pixels", "--storage", str(storage), "--table", "members", "--format", "json"
        ).stdout
    )
    assert {m["member"]: m["weight"] for m in members}["linear"] == 0.5
    assert {m["member"]: m["refit"] for m in members if m["weight"] > 0} == {
        "net_1": True,
        "linear": True,
        "ensemble": True,
    }
    assert (
        storage / "pixels" / "ensemble" / "members" / "linear" / "refit" / "refit.json"
    ).exists()
    res = cli(
        "ensemble",
        "pixels",
        "--storage",
        str(storage),
        "--method",
        "weights",
        "--weights",
        "net_1=1,linear=1",
        "--no-refit",
    )
    assert res.returncode == 0, res.stderr
    record = json.loads((storage / "pixels" / "ensemble" / "ensemble.json").read_text())
    assert (
        not any(e["refit"] for e in record["members"])
        and "refit on train + validation" not in res.stdout
    )
    before = (storage / "pixels" / "ensemble" / "ensemble.json").read_text()
    res = cli(
        "ensemble",
        "pixels",
        "--storage",
        str(storage),
        "--method",
        "weights",
        "--weights",
        "net_7=1",
    )
    assert res.returncode == 2 and "unknown member 'net_7'" in res.stderr
    assert (storage / "pixels" / "ensemble" / "ensemble.json").read_text() == before

    res = cli("results", "ghost", "--storage", str(storage))
    assert res.returncode == 2 and "no experiment 'ghost'" in res.stderr and "pixels" in res.stderr


def test_job_entrypoint_and_demo_config_smoke(tmp_path):
    """`jobs/run.py` (the Ray job entrypoint) runs the demo config, shrunk to a smoke budget."""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [
            sys.executable,
            "jobs/run.py",
            "examples/digits.yaml",
            "--set",
            "search.num_samples=2",
            "--set",
            "search.max_epochs=2",
            "--set",
            f"storage={tmp_path}",
            "--set",
            "name=smoke",
            "--set",
            "ray.num_cpus=2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=repo,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "best trial" in out.stdout
    assert json.loads((tmp_path / "smoke" / "experiment.json").read_text())["status"] == "completed"


def test_stage_entrypoints_tune_then_ensemble(tmp_path):
    """`jobs/tune.py` then `jobs/ensemble.py` on one experiment: the second resumes the first."""
    repo = Path(__file__).resolve().parents[2]
    common = [
        "--set",
        "data.dataset=breast_cancer",
        "--set",
        "search.num_samples=2",
        "--set",
        "search.max_epochs=2",
        "--set",
        f"storage={tmp_path}",
        "--set",
        "name=staged",
        "--set",
        "ray.num_cpus=2",
        "--quiet",
    ]
    for script, stages in (
        ("jobs/tune.py", {"tune": True, "ensemble": False}),
        ("jobs/ensemble.py", {"tune": True, "ensemble": True}),
    ):
        out = subprocess.run(
            [sys.executable, script, *common],
            capture_output=True,
            text=True,
            env=ENV,
            cwd=repo,
            timeout=600,
        )
        assert out.returncode == 0, (script, out.stderr[-3000:])
        assert json.loads((tmp_path / "staged" / "experiment.json").read_text())["stages"] == stages
    assert (tmp_path / "staged" / "ensemble" / "ensemble.json").exists()


def test_jobs_table_puts_each_job_on_one_short_line():
    import pandas as pd

    from rayboost.cli._main import _compact_jobs

    jobs = pd.DataFrame(
        [
            {
                "job_id": "raysubmit_1",
                "status": "FAILED",
                "start_time": 1_795_736_634_348,
                "end_time": None,
                "entrypoint": "python jobs/run.py " + "x" * 100,
                "message": "Job entrypoint command failed with exit code 2,\nlast available logs:\n  Traceback ...",
            },
        ]
    )
    row = _compact_jobs(jobs).iloc[0]
    assert row["start_time"] == "2026-11-26 23:43:54" and row["end_time"] == ""
    assert "\n" not in row["message"] and row["message"].startswith(
        "Job entrypoint command failed with exit code 2, last"
    )
    assert len(row["entrypoint"]) == 60 and row["entrypoint"].endswith("…")
    assert jobs.iloc[0]["entrypoint"].endswith("x" * 100)  # the caller's frame is untouched
