"""Ray Jobs on a real local multi-node cluster (cluster/local.sh: head + 2 workers, 1 CPU each,
token auth on): `rayboost submit` / `rayboost jobs`, a plain `ray job submit` of jobs/run.py, a
worker node killed in the middle of an experiment, and a stopped job resubmitted.

Real torch / XGBoost on digits, kept small: the whole module takes a few minutes on 2 cores.
All nodes run on this machine, so a tmp folder is shared storage.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import rayboost

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests are not a package
import _cluster_fixture as cf  # noqa: E402

REPO = cf.REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="cluster/local.sh needs Linux /proc"
    ),
    pytest.mark.skipif(cf.ray_bin() is None, reason="no ray executable"),
]

# FIFO runs every trial to its last epoch; patience 100 keeps early stopping out of the way.
# A standard-conv CNN with small batches makes an epoch take ~0.3-0.6 s here, so that a trial
# is still running when the test acts on it.
SLOW_FIFO = [
    "data.dataset=digits",
    "search.algorithm=random",
    "search.scheduler=fifo",
    "search.num_samples=4",
    "search.max_epochs=10",
    # a checkpoint after every epoch, so the tests below can tell exactly which epochs a
    # restored trial repeats (by default a trial checkpoints at most every 5 s)
    "search.checkpoint_every_s=0",
    "search.space={patience: 100, conv: standard, filters: 32, blocks: 2, batch_size: 16}",
    "resources.cpus_per_trial=1",
]
# The node-failure test kills a raylet; the trial's worker process there keeps training for
# 1-3 s more (until its periodic raylet-death check fires; the GCS declares the node dead after
# ~3 s with the fast health checks). Epochs of ~1 s (batch 8) keep it from finishing the trial.
KILL_FIFO = [
    *SLOW_FIFO[:-2],
    "search.space={patience: 100, conv: standard, filters: 32, blocks: 2, batch_size: 8}",
    SLOW_FIFO[-1],
]


@pytest.fixture(scope="module")
def cluster():
    with cf.local_cluster(workers=2, num_cpus=1) as running:
        yield running


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-storage")


@pytest.fixture
def jobs(cluster):
    """Job ids a test submits; any still running when the test ends are stopped."""
    submitted: list[str] = []
    yield submitted
    for job_id in submitted:
        cluster.stop_job(job_id)
    for job_id in submitted:
        try:
            cluster.wait_job(job_id, timeout=60)
        except AssertionError:
            pass


def _wait_for(predicate, timeout: float, what: str, interval: float = 0.3, check=None):
    """Poll ``predicate()`` until it returns something truthy; ``check()`` may raise early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if check is not None:
            check()
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _job_alive(cluster, job_id: str):
    last = [0.0]

    def check():
        if time.monotonic() - last[0] < 3:
            return
        last[0] = time.monotonic()
        status = cluster.job_status(job_id)
        if status in cf.TERMINAL:
            raise AssertionError(
                f"job {job_id} ended early: {status}\n{cluster.job_logs(job_id)[-6000:]}"
            )

    return check


def _assert_ensemble(exp) -> None:
    members = exp.members()
    assert "ensemble" in set(members["member"]), members
    row = members[members["member"] == "ensemble"].iloc[0]
    assert row["weight"] == pytest.approx(1.0)
    assert 0.5 < row["test_accuracy"] <= 1.0, members


def _epochs_by_trial(exp) -> dict[str, list[int]]:
    epochs = exp.epochs()
    return {tid: sorted(group["epoch"].tolist()) for tid, group in epochs.groupby("trial_id")}


# --------------------------------------------------------------------------- auth


def test_submission_without_token_is_refused(cluster, tmp_path):
    jobs_before = len(cluster.jobs())
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * len(cluster.token))
    wrong.chmod(0o600)
    base = {k: v for k, v in cluster.env.items() if not k.startswith("RAY_AUTH")}
    base["HOME"] = str(tmp_path)  # no ~/.ray/auth_token to fall back on
    variants = {
        "mode unset": base,
        "mode disabled": {**base, "RAY_AUTH_MODE": "disabled"},
        "wrong token": {**base, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(wrong)},
    }
    for what, env in variants.items():
        done = cluster.cli(
            "submit",
            "--address",
            cluster.address,
            "--set",
            "data.dataset=digits",
            "--set",
            "name=refused",
            "--set",
            f"storage={tmp_path}",
            env=env,
            timeout=120,
        )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2, f"{what}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.strip() == "", f"{what}: printed a job id: {done.stdout}"
        assert len(lines) == 1 and lines[0].startswith("rayboost: error:"), f"{what}: {done.stderr}"
        assert "token" in lines[0].lower() or "auth" in lines[0].lower(), f"{what}: {lines[0]}"
    assert len(cluster.jobs()) == jobs_before, "a refused submission created a job"
    assert not (tmp_path / "refused").exists()


# --------------------------------------------------------------------------- rayboost submit


def test_submit_runs_trials_on_several_nodes(cluster, storage):
    # With the default space an epoch can take 0.05 s: all 6 trials then finish in ~3 s, one
    # after the other in one reused actor, while the XGBoost and linear members hold the other
    # two CPUs. Bigger nets with batch 8 (~1 s an epoch) outlast the members and a second
    # actor's start, so trials spread out.
    done = cluster.cli(
        "submit",
        "--address",
        cluster.address,
        "--set",
        "data.dataset=digits",
        "--set",
        "search.num_samples=6",
        "--set",
        "search.max_epochs=4",
        "--set",
        f"storage={storage}",
        "--set",
        "name=multi",
        "--set",
        "resources.cpus_per_trial=1",
        "--set",
        "search.space={conv: standard, filters: 32, batch_size: 8}",
        "--follow",
        timeout=420,
    )
    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    )
    job_id = done.stdout.splitlines()[0].strip()
    assert job_id.startswith("rayboost-multi-"), done.stdout[:500]
    assert "Leaderboard (multi" in done.stdout  # --follow streamed the job's output
    assert f"job {job_id}: SUCCEEDED" in done.stderr

    # read back in this process, without Ray
    exp = rayboost.load("multi", storage=storage)
    assert exp.status == "completed"
    trials = exp.trials()
    assert len(trials) == 6, trials
    assert set(trials["status"]) <= {"completed", "stopped"}, trials[
        ["trial_id", "status", "error"]
    ]
    nodes = cluster.raylets()
    epochs = exp.epochs()
    per_node = epochs.groupby("node_id").size().to_dict()
    label = {node_id: f"n{r.index}:{node_id[:8]}" for node_id, r in nodes.items()}
    print(
        f"\nmulti: epochs per node { {label.get(k, k): v for k, v in per_node.items()} }; "
        f"trials per node (last epoch) { {label.get(k, k): v for k, v in trials['node_id'].value_counts().items()} }"
    )
    assert set(per_node) <= set(nodes), (
        f"epochs from nodes outside this cluster: {per_node} vs {nodes}"
    )
    assert trials["node_id"].nunique() >= 2, trials[["trial_id", "node_id"]]
    _assert_ensemble(exp)
    assert exp.summary()["test"]["accuracy"] > 0

    listed = cluster.cli(
        "jobs", "list", "--address", cluster.address, "--format", "json", timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    row = {r["job_id"]: r for r in json.loads(listed.stdout)}[job_id]
    assert row["status"] == "SUCCEEDED" and row["experiment"] == "multi", row

    logs = cluster.cli("jobs", "logs", job_id, "--address", cluster.address, timeout=120)
    assert logs.returncode == 0, logs.stderr
    assert "Leaderboard (multi, validation split)" in logs.stdout
    for trial_id in trials["trial_id"]:
        assert trial_id in logs.stdout


# --------------------------------------------------------------------------- plain ray job submit


def test_plain_ray_job_submit_of_the_entrypoint(cluster, storage):
    ray = cf.ray_bin()
    # local.sh puts the ray executable's directory first on the nodes' PATH, so that the job's
    # `python` is this environment's interpreter (with torch, xgboost, ray[default]).
    head = next(r for r in cluster.raylets().values() if r.is_head)
    environ = Path(f"/proc/{head.pid}/environ").read_bytes().split(b"\0")
    path = next(e for e in environ if e.startswith(b"PATH=")).decode()[len("PATH=") :]
    assert path.split(":")[0] == str(ray.parent), path
    assert (ray.parent / "python").exists()

    done = subprocess.run(
        [
            str(ray),
            "job",
            "submit",
            "--address",
            cluster.address,
            "--working-dir",
            ".",
            "--",
            "python",
            "jobs/run.py",
            "examples/digits.yaml",
            "--set",
            "search.num_samples=4",
            "--set",
            "search.max_epochs=3",
            "--set",
            f"storage={storage}",
            "--set",
            "name=plain",
        ],
        cwd=REPO,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=420,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert "succeeded" in out, out[-3000:]
    assert "Leaderboard (plain" in out

    exp = rayboost.load("plain", storage=storage)
    assert exp.status == "completed"
    trials = exp.trials()
    assert len(trials) == 4 and set(trials["status"]) <= {"completed", "stopped"}, trials
    assert exp.config["search"]["max_epochs"] == 3
    assert trials["epochs"].between(1, 3).all()
    _assert_ensemble(exp)
    assert exp.summary()["test"] is not None


# --------------------------------------------------------------------------- stop + resubmit


def test_stop_and_resubmit_resumes(cluster, storage, jobs):
    sets = [*SLOW_FIFO, f"storage={storage}", "name=resumed"]
    root = storage / "resumed"
    first = cluster.submit(*sets)
    jobs.append(first)
    _wait_for(
        lambda: len(cf.epoch_records(root)) >= 8,
        300,
        "8 epoch records",
        check=_job_alive(cluster, first),
    )
    stop = cluster.cli("jobs", "stop", first, "--address", cluster.address, timeout=120)
    assert stop.returncode == 0 and "stop requested" in stop.stdout, stop.stdout + stop.stderr
    cluster.wait_job(first, "STOPPED", timeout=120)
    time.sleep(2)  # the stopped driver's trial actors are gone by now
    before = cf.epoch_records(root)
    before_max = Counter()
    for record in before:
        before_max[record["trial_id"]] = max(before_max[record["trial_id"]], record["epoch"])
    interrupted = {t for t, last in before_max.items() if last < 10}
    assert interrupted, f"every trial had finished before the stop: {dict(before_max)}"
    print(f"\nresumed: epochs per trial at the stop {dict(before_max)}")

    resubmitted_at = time.time()
    second = cluster.submit(*sets)
    jobs.append(second)
    cluster.wait_job(second, "SUCCEEDED", timeout=420)
    logs = cluster.job_logs(second)
    assert "restoring round-1" in logs, logs[-3000:]
    rounds = sorted(p.name for p in (root / "tune").iterdir() if p.name.startswith("round-"))
    assert rounds == ["round-1"], rounds

    exp = rayboost.load("resumed", storage=storage)
    assert exp.status == "completed"
    trials = exp.trials()
    abandoned = set(trials.loc[trials["status"] == "abandoned", "trial_id"])
    assert len(abandoned) <= 1, trials[["trial_id", "status", "epochs"]]
    kept = trials[trials["status"] != "abandoned"]
    assert len(kept) == 4, trials[["trial_id", "status", "epochs"]]
    assert set(kept["status"]) == {"completed"} and (kept["epochs"] == 10).all(), kept
    by_trial = _epochs_by_trial(exp)
    for trial_id in kept["trial_id"]:
        assert by_trial[trial_id] == list(range(1, 11)), (trial_id, by_trial[trial_id])
    # the trials that ran before the stop were restored (same ids), not replaced
    restored = set(before_max) - abandoned
    assert len(restored) >= len(before_max) - 1 and restored <= set(kept["trial_id"]), (
        dict(before_max),
        kept["trial_id"].tolist(),
    )
    # ... and continued from their checkpoints: epochs done before the stop were not rerun,
    # except at most the one in flight when it stopped
    raw = cf.epoch_records(root)
    counts = Counter((r["trial_id"], r["epoch"]) for r in raw)
    assert max(counts.values()) <= 2, [k for k, n in counts.items() if n > 2]
    for trial_id in restored:
        after = [
            r["epoch"] for r in raw if r["trial_id"] == trial_id and r["time"] > resubmitted_at
        ]
        if trial_id not in interrupted:
            # finished before the stop; if that was after Tune last saved its state it is
            # currently retrained from scratch (test_trial_finished_before_stop_is_not_rerun)
            continue
        assert after, f"{trial_id}: no epochs after the resubmission"
        assert min(after) >= before_max[trial_id], (trial_id, before_max[trial_id], sorted(after))
        rerun = [key for key, n in counts.items() if key[0] == trial_id and n == 2]
        assert len(rerun) <= 1, (trial_id, rerun)

    summary = exp.summary()
    assert summary["n_trials"] == 4
    assert summary["test"] is not None and summary["test"]["accuracy"] > 0.5, summary["test"]
    assert summary["ensemble"], summary
    _assert_ensemble(exp)


class FinishedTrialRerun(AssertionError):
    """The known bug the next test shows (and only that: any other failure is a failure)."""


def test_trial_finished_before_stop_is_not_rerun(cluster, storage, jobs):
    """Tune saves its experiment state when a search starts and then every >= 10 s, not when a
    trial finishes, so a restore finds a trial that finished since then still RUNNING and starts
    it again. A long save period (TUNE_GLOBAL_CHECKPOINT_S) makes the window certain here."""
    root = storage / "finished"
    sets = [
        *SLOW_FIFO[:3],
        "search.num_samples=3",
        "search.max_epochs=6",
        SLOW_FIFO[5],
        "ensemble.enabled=false",
        f"storage={storage}",
        "name=finished",
    ]
    runtime_env = json.dumps({"env_vars": {"TUNE_GLOBAL_CHECKPOINT_S": "3600"}})

    def submit(job_id: str) -> None:
        cmd = [
            str(cf.ray_bin()),
            "job",
            "submit",
            "--address",
            cluster.address,
            "--no-wait",
            "--submission-id",
            job_id,
            "--working-dir",
            ".",
            "--runtime-env-json",
            runtime_env,
            "--",
            "python",
            "jobs/run.py",
            *[a for s in sets for a in ("--set", s)],
        ]
        done = subprocess.run(
            cmd, cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        jobs.append(job_id)

    suffix = f"{time.time_ns() % 10**9}"
    submit(f"finished-1-{suffix}")

    def one_finished_one_running():
        latest = {}
        for record in cf.epoch_records(root):
            latest[record["trial_id"]] = record
        done = [t for t, r in latest.items() if r["final"]]
        return done if done and len(done) < len(latest) else None

    finished = _wait_for(
        one_finished_one_running, 300, "a finished trial", 0.1, _job_alive(cluster, jobs[0])
    )
    cluster.api(f"/api/jobs/{jobs[0]}/stop", method="POST")
    cluster.wait_job(jobs[0], "STOPPED", timeout=120)
    time.sleep(2)
    resubmitted_at = time.time()
    submit(f"finished-2-{suffix}")
    cluster.wait_job(jobs[1], "SUCCEEDED", timeout=420)

    exp = rayboost.load("finished", storage=storage)
    assert exp.status == "completed"
    kept = exp.trials().query("status != 'abandoned'")
    assert len(kept) == 3 and set(kept["status"]) == {"completed"}, kept
    assert set(finished) <= set(kept["trial_id"]), (finished, kept["trial_id"].tolist())
    rerun = {
        t: sorted(
            r["epoch"]
            for r in cf.epoch_records(root)
            if r["trial_id"] == t and r["time"] > resubmitted_at
        )
        for t in finished
    }
    if any(rerun.values()):
        raise FinishedTrialRerun(f"finished before the stop, trained again after it: {rerun}")


# --------------------------------------------------------------------------- node failure
# Runs last: it leaves the cluster with the head and one worker (2 CPUs).


def test_worker_node_killed_mid_experiment(cluster, storage, jobs):
    root = storage / "killed"
    raylets = cluster.raylets()
    workers = {node_id: r for node_id, r in raylets.items() if not r.is_head}
    assert len(workers) == 2, raylets
    job_id = cluster.submit(*KILL_FIFO, f"storage={storage}", "name=killed")
    jobs.append(job_id)

    def running_on_a_worker():
        latest = {}
        for record in cf.epoch_records(root):
            latest[record["trial_id"]] = record
        for record in latest.values():
            if record["node_id"] in workers and 2 <= record["epoch"] <= 4 and not record["final"]:
                return record
        return None

    seen = _wait_for(
        running_on_a_worker,
        300,
        "a trial with 2+ epochs on a worker",
        check=_job_alive(cluster, job_id),
    )
    victim, dead_node = seen["trial_id"], seen["node_id"]
    killed_at = cluster.kill_raylet(workers[dead_node])
    before = [
        r for r in cf.epoch_records(root) if r["trial_id"] == victim and r["time"] < killed_at
    ]
    last_before = max(r["epoch"] for r in before)
    assert last_before >= 2

    cluster.wait_job(job_id, "SUCCEEDED", timeout=420)
    status = cluster.sh("status", timeout=60)
    assert "1 dead" in status.stdout, status.stdout + status.stderr
    assert dead_node not in cluster.raylets()

    exp = rayboost.load("killed", storage=storage)
    assert exp.status == "completed"
    trials = exp.trials()
    assert len(trials) == 4, trials
    assert set(trials["status"]) == {"completed"} and (trials["epochs"] == 10).all(), trials
    epochs = exp.epochs()
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for trial_id, got in _epochs_by_trial(exp).items():
        assert got == list(range(1, 11)), (trial_id, got)

    # The killed trial continued from its checkpoint on a surviving node. Its worker process on
    # the dead node outlives the raylet by 1-3 s and may finish a few more epochs: those records
    # are real, but they must all precede the retry (never two live copies of one trial) and the
    # retry must continue from the last of them.
    raw = sorted(
        (r for r in cf.epoch_records(root) if r["trial_id"] == victim), key=lambda r: r["time"]
    )
    on_dead = [r for r in raw if r["node_id"] == dead_node]
    resumed = [r for r in raw if r["node_id"] != dead_node]
    zombie = [r["epoch"] for r in on_dead if r["time"] > killed_at]
    print(
        f"\nkilled node {dead_node[:8]} (n{workers[dead_node].index}) at epoch {last_before} of {victim}; "
        f"epochs written there after the kill: {zombie} (last {on_dead[-1]['time'] - killed_at:+.1f} s); "
        f"resumed on {resumed[0]['node_id'][:8] if resumed else None} "
        f"{resumed[0]['time'] - killed_at if resumed else float('nan'):+.1f} s after the kill "
        f"at epoch {resumed[0]['epoch'] if resumed else None}; "
        f"epoch time {sum(r['epoch_time_s'] for r in raw) / len(raw):.2f} s"
    )
    first = [r for r in raw if r["epoch"] == 1]
    assert len(first) == 1 and first[0]["time"] < killed_at and first[0]["node_id"] == dead_node, (
        first
    )
    assert resumed, f"{victim} was not retried on another node"
    assert resumed[0]["time"] > on_dead[-1]["time"], (
        "the dead node's worker still wrote after the retry began"
    )
    assert on_dead[-1]["time"] < killed_at + 15, f"the dead node's worker carried on: {zombie}"
    assert resumed[0]["epoch"] in (on_dead[-1]["epoch"], on_dead[-1]["epoch"] + 1), (
        on_dead[-1]["epoch"],
        [r["epoch"] for r in resumed],
    )
    assert [r["epoch"] for r in resumed][-1] == 10
    assert max(Counter(r["epoch"] for r in raw).values()) <= 2
    assert trials.set_index("trial_id").loc[victim, "node_id"] != dead_node
    _assert_ensemble(exp)
    assert exp.summary()["test"] is not None
