"""One driver per experiment: the lock, its takeover when the holder is gone, what readers see
after a kill, creation as one step, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

import rayboost
from rayboost._errors import ExperimentError
from rayboost._lock import STALE_S, ExperimentLock, holder, lock_path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(root, pid, host, age_s=0.0):
    now = time.time()
    lock_path(root).parent.mkdir(parents=True, exist_ok=True)
    lock_path(root).write_text(
        json.dumps(
            {"pid": pid, "host": host, "started_at": now - age_s, "heartbeat_at": now - age_s}
        )
    )


def test_a_second_driver_is_refused_with_who_holds_the_lock(tmp_path):
    root = tmp_path / "store" / "exp"
    with ExperimentLock(root, verbose=False):
        assert holder(root).pid == os.getpid()
        with pytest.raises(
            ExperimentError, match=rf"in use by pid {os.getpid()} on {socket.gethostname()}"
        ):
            ExperimentLock(root, verbose=False).acquire()
    assert not lock_path(root).exists() and holder(root) is None
    with ExperimentLock(root, verbose=False):  # free again
        pass


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path, capsys):
    root = tmp_path / "exp"
    _write_lock(root, _dead_pid(), socket.gethostname())
    assert holder(root) is None
    with ExperimentLock(root, verbose=True):
        assert holder(root).pid == os.getpid()
    assert "taking over the lock of 'exp'" in capsys.readouterr().out


def test_another_hosts_lock_counts_while_its_heartbeat_is_fresh(tmp_path):
    root = tmp_path / "exp"
    _write_lock(root, 1, "some-other-host", age_s=1.0)
    with pytest.raises(ExperimentError, match="in use by pid 1 on some-other-host"):
        ExperimentLock(root, verbose=False).acquire()
    _write_lock(root, 1, "some-other-host", age_s=STALE_S + 5)
    with ExperimentLock(root, verbose=False):
        assert holder(root).host == socket.gethostname()


def test_a_refused_run_leaves_no_storage_folder_behind(tmp_path):
    with ExperimentLock(tmp_path / "new_store" / "exp", verbose=False):
        assert (tmp_path / "new_store").is_dir()
    assert not (tmp_path / "new_store").exists()


def test_a_run_while_another_driver_holds_the_name_exits_before_anything(tmp_path):
    overrides = [f"storage={tmp_path}", "name=busy", "data.dataset=breast_cancer"]
    with ExperimentLock(tmp_path / "busy", verbose=False):
        with pytest.raises(ExperimentError, match="'busy' is in use by pid"):
            rayboost.run(overrides=overrides, verbose=False, resume=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.usefixtures("local_ray")
def test_creation_is_one_step_so_a_failed_one_leaves_a_reusable_name(tmp_path, monkeypatch):
    import rayboost.data._split as split_module

    overrides = [
        f"storage={tmp_path}",
        "name=half",
        "data.dataset=breast_cancer",
        "search.num_samples=1",
        "search.max_epochs=1",
        "ensemble.enabled=false",
    ]

    def killed(*args, **kwargs):
        raise OSError("killed while creating")

    with monkeypatch.context() as patch:
        patch.setattr(split_module, "write_text_atomic", killed)
        with pytest.raises(OSError, match="killed while creating"):
            rayboost.run(overrides=overrides, verbose=False)
    assert not (tmp_path / "half").exists()  # no half-made experiment holding the name
    assert rayboost.run(overrides=overrides, verbose=False).status == "completed"
    assert (tmp_path / "half").stat().st_mode & 0o777 == 0o700  # private from the start


def test_sigterm_leaves_status_interrupted_and_the_lock_released(tmp_path):
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
        "name=t",
        "--set",
        f"storage={tmp_path}",
        "--set",
        "search.num_samples=4",
        "--set",
        "search.max_epochs=30",
        "--set",
        "search.scheduler=fifo",
        "--set",
        "ray.num_cpus=2",
        "--set",
        "ensemble.enabled=false",
        "--set",
        "search.time_budget_s=null",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((tmp_path / "t").glob("trials/*/epochs.jsonl")):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        time.sleep(0.5)
    assert rayboost.load("t", tmp_path).status == "running"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    meta = json.loads((tmp_path / "t" / "experiment.json").read_text())
    assert meta["status"] == "interrupted" and rayboost.load("t", tmp_path).status == "interrupted"
    assert not lock_path(tmp_path / "t").exists()


def _round(tmp_path):
    from rayboost._layout import ExperimentPaths

    paths = ExperimentPaths(tmp_path / "store" / "exp")
    round_dir = paths.tune_dir / "round-1"
    round_dir.mkdir(parents=True)
    (round_dir / "tuner.pkl").write_bytes(b"pickle")
    for folder in (tmp_path / "store", paths.root, paths.tune_dir, round_dir):
        folder.chmod(0o755)
    (round_dir / "tuner.pkl").chmod(0o644)
    return paths, round_dir


@pytest.mark.parametrize("which", ["root", "round", "file"])
def test_tune_state_writable_by_others_is_never_unpickled(tmp_path, which):
    from rayboost.tuning._tune import check_restorable

    paths, round_dir = _round(tmp_path)
    check_restorable(paths, round_dir)  # private: fine
    target = {"root": paths.root, "round": round_dir, "file": round_dir / "tuner.pkl"}[which]
    target.chmod(0o777 if target.is_dir() else 0o666)
    with pytest.raises(
        ExperimentError, match=rf"refusing to resume 'exp'.*{target.name} is writable by others"
    ):
        check_restorable(paths, round_dir)
    target.chmod(0o775 if target.is_dir() else 0o664)
    with pytest.raises(ExperimentError, match="writable by its group"):
        check_restorable(paths, round_dir)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_tune_state_of_another_user_is_never_unpickled(tmp_path):
    from rayboost.tuning._tune import check_restorable

    paths, round_dir = _round(tmp_path)
    os.chown(round_dir / "tuner.pkl", 12345, 12345)
    with pytest.raises(ExperimentError, match="belongs to user id 12345"):
        check_restorable(paths, round_dir)


def test_folders_rayboost_creates_are_private(tmp_path, monkeypatch):
    with ExperimentLock(tmp_path / "fresh" / "exp", verbose=False):
        assert (tmp_path / "fresh").stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("RAYBOOST_GROUP_READ", "1")
    with ExperimentLock(tmp_path / "shared" / "exp", verbose=False):
        assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o750
