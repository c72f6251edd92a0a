"""Restore-or-start: stages, raised budgets, a killed driver, refused changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import rayboost
from rayboost._pipeline import resume

BASE = [
    "data.dataset=breast_cancer",
    "search.max_epochs=3",
    "search.num_samples=2",
    "ensemble.top_k=2",
]


@pytest.mark.usefixtures("local_ray")
def test_stages_then_a_raised_budget_adds_trials_and_rebuilds_the_ensemble(tmp_path):
    exp = rayboost.run(
        overrides=[f"storage={tmp_path}", "name=r", *BASE], verbose=False, stages=("tune",)
    )
    assert rayboost.load("r", tmp_path).status == "partial"
    assert not exp.paths.ensemble.exists()
    first = set(exp.trials()["trial_id"])

    rayboost.run(
        overrides=[f"storage={tmp_path}", "name=r", *BASE],
        verbose=False,
        resume=True,
        stages=("ensemble",),
    )
    exp = rayboost.load("r", tmp_path)
    assert exp.status == "completed" and set(exp.trials()["trial_id"]) == first  # nothing retrained
    assert exp.members()["member"].tolist() == ["net_1", "net_2", "xgboost", "linear", "ensemble"]

    resume("r", tmp_path, ["search.num_samples=4"], verbose=False)
    exp = rayboost.load("r", tmp_path)
    trials = exp.trials()
    assert len(trials) == 4 and first < set(trials["trial_id"])  # finished trials kept, two added
    assert sorted(p.name for p in exp.paths.tune_dir.iterdir() if p.is_dir()) == [
        "round-1",
        "round-2",
    ]
    assert not exp.epochs().duplicated(["trial_id", "epoch"]).any()
    assert exp.summary()["n_trials"] == 4
    nets = exp.members().query("kind == 'net'")["trial_id"]
    # ties on accuracy go to the lower validation loss, then to fewer epochs
    board = trials.sort_values(
        ["best_val_accuracy", "best_val_loss", "best_epoch"], ascending=[False, True, True]
    )
    assert nets.tolist() == board["trial_id"].head(2).tolist()  # the ensemble was rebuilt on all 4


@pytest.mark.usefixtures("local_ray")
def test_resume_refuses_changes_that_would_mix_results(tmp_path):
    rayboost.run(
        overrides=[f"storage={tmp_path}", "name=r", *BASE, "ensemble.enabled=false"], verbose=False
    )
    with pytest.raises(
        rayboost.ConfigError, match="search.max_epochs: experiment 'r' ran with 3, not 5"
    ):
        rayboost.run(
            overrides=[f"storage={tmp_path}", "name=r", *BASE, "search.max_epochs=5"],
            verbose=False,
            resume=True,
        )
    with pytest.raises(rayboost.ConfigError, match="raise the budget, not lower it"):
        resume("r", tmp_path, ["search.num_samples=1"], verbose=False)
    with pytest.raises(rayboost.ExperimentError, match="rayboost resume r"):
        rayboost.run(overrides=[f"storage={tmp_path}", "name=r", *BASE], verbose=False)


@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize("given", ["relative", "unset"])
def test_resume_by_name_works_for_storage_given_relative_or_not_at_all(
    tmp_path, monkeypatch, given
):
    monkeypatch.chdir(tmp_path)
    quick = [
        "data.dataset=breast_cancer",
        "search.max_epochs=1",
        "search.num_samples=1",
        "ensemble.enabled=false",
    ]
    if given == "relative":
        storage, where = ["storage=store_rel"], tmp_path / "store_rel"
    else:  # the default storage, from the environment
        monkeypatch.setenv("RAYBOOST_STORAGE", "env_store")
        storage, where = [], tmp_path / "env_store"
    rayboost.run(overrides=[*storage, "name=rel", *quick], verbose=False)
    exp = resume("rel", where, ["search.num_samples=2"], verbose=False)
    assert exp.status == "completed" and len(exp.trials()) == 2


def test_a_killed_driver_resumes_without_losing_or_repeating_epochs(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    args = [
        sys.executable,
        "-m",
        "rayboost",
        "run",
        "--quiet",
        "--set",
        "data.dataset=digits",
        "--set",
        "name=k",
        "--set",
        f"storage={tmp_path}",
        "--set",
        "search.num_samples=4",
        "--set",
        "search.max_epochs=10",
        "--set",
        "search.scheduler=fifo",
        "--set",
        "search.space={patience: 100}",
        "--set",
        "ray.num_cpus=2",
        "--set",
        "ensemble.enabled=false",
    ]
    proc = subprocess.Popen(
        args, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )

    def records() -> list[str]:
        return [
            line
            for p in (tmp_path / "k").glob("trials/*/epochs.jsonl")
            for line in p.read_text().splitlines()
        ]

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(records()) < 8:
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    seen = {
        p.parent.name for p in (tmp_path / "k").glob("trials/*/epochs.jsonl")
    }  # trials with epochs
    started = {
        json.loads(line)["trial_id"]
        for line in (tmp_path / "k" / "records" / "trials.jsonl").read_text().splitlines()
    }
    # it says running, but nobody holds its lock: a reader sees that the driver died
    assert json.loads((tmp_path / "k" / "experiment.json").read_text())["status"] == "running"
    assert rayboost.load("k", tmp_path).status == "died"

    out = subprocess.run(
        [sys.executable, "-m", "rayboost", "resume", "k", "--storage", str(tmp_path), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    exp = rayboost.load("k", tmp_path)
    trials, epochs = exp.trials(), exp.epochs()
    # A trial that started after Tune last saved its state is run again as a new trial; the
    # one that started is kept for the record as "abandoned", never selected.
    abandoned = set(trials.loc[trials["status"] == "abandoned", "trial_id"])
    assert abandoned <= started
    trials = trials[trials["status"] != "abandoned"]
    epochs = epochs[~epochs["trial_id"].isin(abandoned)]
    assert exp.status == "completed" and len(trials) == 4 and exp.summary()["n_trials"] == 4
    assert seen - abandoned <= set(trials["trial_id"])  # trials that had started were restored
    assert (trials["epochs"] == 10).all()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for _, group in epochs.groupby("trial_id"):
        assert group["epoch"].tolist() == list(range(1, 11))  # no gaps


@pytest.mark.usefixtures("local_ray")
def test_a_budget_bounded_search_takes_more_trials_by_num_samples(tmp_path):
    budget = [
        "data.dataset=breast_cancer",
        "search.max_epochs=2",
        "search.time_budget_s=6",
        "ensemble.enabled=false",
    ]
    exp = rayboost.run(overrides=[f"storage={tmp_path}", "name=b", *budget], verbose=False)
    first = set(exp.trials()["trial_id"])
    assert len(first) >= 2 and exp.status == "completed"
    resume("b", tmp_path, verbose=False)  # nothing to do: the budget is spent
    assert set(rayboost.load("b", tmp_path).trials()["trial_id"]) == first
    resume("b", tmp_path, [f"search.num_samples={len(first) + 2}"], verbose=False)
    trials = rayboost.load("b", tmp_path).trials()
    assert len(trials) == len(first) + 2 and first < set(trials["trial_id"])
