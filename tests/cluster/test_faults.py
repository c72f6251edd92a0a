"""Fault injection: the driver SIGKILLed at random moments of a small run, resumed each time.

A one-node Ray started with ``ray start`` (``cluster/local.sh``) stays up while drivers come and
go, so a driver's restart costs its own start-up only. Each round starts ``rayboost run
--resume`` (restore-or-start) and kills it unless it ended first: 4 kills aimed at creation
(a random moment of the first seconds), 9 at tuning (a random moment after the driver's first
epoch record) and 7 at the ensemble stage (a random moment after tuning is done: the members'
training, weights, refits and the ensemble's files). A last resume runs to
the end. Then every trial appears once and ended, the epoch records have no gaps or repeats, the
saved ensemble is the one ``ensemble.json`` describes and predicts what its table says, and no
half-written file or folder is left.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import rayboost

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
import _cluster_fixture as cf  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="cluster/local.sh needs Linux /proc"
    ),
    pytest.mark.skipif(cf.ray_bin() is None, reason="no ray executable"),
]

PLAN = ["creation"] * 4 + ["tuning"] * 9 + ["ensemble"] * 7
"""Where each of the 20 kills is aimed; the moment within it is random."""
TRIALS = 4
RUN = [
    # digits CNNs under FIFO with patience out of the way: epochs of about half a second, so that
    # tuning lasts long enough to be interrupted many times
    "data.dataset=digits",
    "name=f",
    f"search.num_samples={TRIALS}",
    "search.max_epochs=8",
    "search.scheduler=fifo",
    "search.space={patience: 100}",
    "search.time_budget_s=null",
    "search.checkpoint_every_s=0",
    "ensemble.top_k=2",
    "ensemble.xgboost_trials=3",
]


def _phase(root: Path) -> str:
    """Where the run was when it was killed, from what it had written."""
    try:
        meta = json.loads((root / "experiment.json").read_text())
    except (OSError, ValueError):
        return "creation"
    stages = meta.get("stages", {})
    return "ensemble" if stages.get("tune") else "tuning"


def _epoch_lines(root: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in root.glob("trials/*/epochs.jsonl"))


def _wait(proc: subprocess.Popen, until, timeout: float) -> None:
    """Until ``until()`` holds, the driver has ended, or ``timeout`` seconds have passed."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None and not until():
        time.sleep(0.05)


def _leftovers(storage: Path) -> list[str]:
    return [
        str(p.relative_to(storage))
        for p in storage.rglob("*")
        if p.name.endswith((".partial", ".old", ".lock")) or ".tmp" in p.name
    ]


def test_driver_killed_at_random_moments_then_resumed(tmp_path, capsys):
    rng = random.Random(20261130)
    storage = tmp_path / "store"
    with cf.local_cluster(workers=0, num_cpus=2) as cluster:
        address = f"127.0.0.1:{cluster.node_env['RAYBOOST_GCS_PORT']}"
        args = [
            sys.executable,
            "-m",
            "rayboost",
            "run",
            "--resume",
            "--quiet",
            "--set",
            f"ray.address={address}",
            "--set",
            f"storage={storage}",
        ]
        for item in RUN:
            args += ["--set", item]
        kills, phases, ended_early = 0, Counter(), 0
        started = time.monotonic()
        root = storage / "f"
        for want in PLAN:
            proc = subprocess.Popen(
                args,
                env=cluster.env,
                cwd=cf.REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            if want == "creation":  # before the folder exists, or while it is being made
                _wait(proc, lambda: False, rng.uniform(0.5, 5.0))
            elif want == "tuning":  # once this driver has recorded an epoch of its own
                seen = _epoch_lines(root)
                _wait(
                    proc,
                    lambda seen=seen: _epoch_lines(root) > seen or _phase(root) == "ensemble",
                    120,
                )
                _wait(proc, lambda: False, rng.uniform(0.0, 1.5))
            else:  # the members' training, weights, refits and the ensemble's files
                _wait(proc, lambda: _phase(root) == "ensemble", 120)
                _wait(proc, lambda: False, rng.uniform(0.5, 8.0))
            if proc.poll() is None:
                phases[_phase(root)] += 1
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                continue
            assert proc.returncode == 0, proc.stderr.read().decode()[-3000:]
            ended_early += 1
            if json.loads((root / "experiment.json").read_text())["status"] == "completed":
                break  # it finished between kills: nothing left to interrupt
        final = subprocess.run(
            args, env=cluster.env, cwd=cf.REPO, capture_output=True, text=True, timeout=600
        )
        assert final.returncode == 0, final.stderr[-3000:]
        took = time.monotonic() - started

    exp = rayboost.load("f", storage)
    assert exp.status == "completed"
    trials, epochs = exp.trials(), exp.epochs()
    assert trials["trial_id"].is_unique
    assert set(trials["status"]) <= {"completed", "stopped", "abandoned"}
    assert (trials["status"] != "abandoned").sum() == TRIALS  # the planned trials, each ended once
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for trial_id, own in epochs.groupby("trial_id"):
        assert own["epoch"].tolist() == list(range(1, len(own) + 1)), trial_id  # no gaps
    ran = trials[trials["status"] != "abandoned"]
    assert (ran["epochs"] == 8).all()  # FIFO, patience out of the way: every trial ran its epochs
    assert (
        ran["epochs"] == epochs.groupby("trial_id").size().reindex(ran["trial_id"]).to_numpy()
    ).all()

    model = exp.ensemble()  # refuses member files that do not match ensemble.json
    record = json.loads(exp.paths.ensemble.read_text())
    assert [e["member"] for e in record["members"]] == exp.members()["member"].tolist()[:-1]
    from rayboost.config import DataConfig
    from rayboost.data import Split, load_dataset

    dataset, split = load_dataset(DataConfig(dataset="digits")), Split.load(exp.paths.split)
    accuracy = float(
        (
            model.predict(dataset.X[split.test])
            == np.asarray(dataset.classes)[dataset.y[split.test]]
        ).mean()
    )
    row = exp.members().iloc[-1]
    handed_back = row["refit_test_accuracy"] if row["refit"] else row["test_accuracy"]
    assert accuracy == pytest.approx(handed_back)
    assert _leftovers(storage) == []  # nothing half-written, no lock left behind

    with capsys.disabled():
        print(
            f"\nfault injection: {kills} kills ({', '.join(f'{n} during {p}' for p, n in sorted(phases.items()))}), "
            f"{kills + ended_early + 1} resumes, {len(trials)} trials and {len(epochs)} epochs checked, {took:.0f} s"
        )
