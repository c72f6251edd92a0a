"""A full disk: the run stops with one line that says what to do, and a resume finishes it.

The storage is a small tmpfs mounted in a private mount namespace (``unshare``), so nothing
outside this test sees it. One size fills up while the trials write their checkpoints, the other
while the ensemble stage writes its members. The mount is then made larger ("free space") and
``rayboost resume`` runs in the same namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rayboost

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tmpfs mounts need Linux"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="no unshare (util-linux)"),
]

RAYBOOST = str(Path(sys.executable).with_name("rayboost"))
RUN = [
    "data.dataset=digits",
    "name=full",
    "search.num_samples=4",
    "search.max_epochs=3",
    "ensemble.xgboost_trials=2",
]
SCRIPT = """
set -u
mount -t tmpfs -o size="$SIZE",mode=0700 tmpfs "$MNT" || exit 97
"$RAYBOOST" run $SETS --set storage="$MNT/store" > "$OUT/run.out" 2> "$OUT/run.err"
echo $? > "$OUT/run.rc"
cp -a "$MNT/store" "$OUT/full"
mount -o remount,size=64m "$MNT"
"$RAYBOOST" resume full --storage "$MNT/store" > "$OUT/resume.out" 2> "$OUT/resume.err"
echo $? > "$OUT/resume.rc"
cp -a "$MNT/store" "$OUT/done"
"""


def _namespace() -> list[str] | None:
    """An ``unshare`` command line that lets this user mount a tmpfs, or None."""
    for command in (["unshare", "-m", "--propagation", "private"], ["unshare", "-rm"]):
        probe = subprocess.run(
            [*command, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return command
    return None


def _leftovers(storage: Path) -> list[str]:
    return [
        str(p.relative_to(storage))
        for p in storage.rglob("*")
        if p.name.endswith((".partial", ".old", ".lock")) or ".tmp" in p.name
    ]


@pytest.mark.parametrize("size, stage", [("300k", "tuning"), ("1500k", "ensemble")])
def test_a_full_disk_stops_with_one_line_and_resumes(tmp_path, size, stage):
    namespace = _namespace()
    if namespace is None:
        pytest.skip("cannot mount a tmpfs in a private mount namespace here (needs root or userns)")
    out, mnt = tmp_path / "out", tmp_path / "mnt"
    out.mkdir()
    mnt.mkdir()
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "disabled",
        "SIZE": size,
        "MNT": str(mnt),
        "OUT": str(out),
        "RAYBOOST": RAYBOOST,
        "SETS": " ".join(f"--set {item}" for item in RUN),
    }
    done = subprocess.run(
        [*namespace, "bash", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]

    # the run: exit 2 and one line that says what is wrong and what to do; no traceback
    run_err = (out / "run.err").read_text()
    assert (out / "run.rc").read_text().strip() == "2", run_err[-3000:]
    last = run_err.strip().splitlines()[-1]
    assert last.startswith(f"rayboost: error: storage {mnt}/store is full ("), last
    assert f"`rayboost resume full --storage {mnt}/store` continues" in last
    assert not last.startswith("Traceback")
    full = rayboost.load("full", storage=out / "full")
    # "failed" when the status still fits on the disk; when not even that fits, the status
    # stays "running" with nobody holding the lock, which readers show as "died"
    assert full.status in ("failed", "died"), full.meta
    if full.status == "failed":
        assert full.record.error.startswith("storage full"), full.meta
    assert full.record.done("tune") == (stage == "ensemble")  # where the disk filled up
    assert _leftovers(out / "full") == []  # nothing half-written, the lock released

    # the resume, once there is space: every trial once, every epoch once, the ensemble whole.
    # Trials are restored from their checkpoints, unless the disk filled up while Tune wrote
    # its own state file (Tune writes it in place): Tune then cannot restore the round, and
    # its trials are "abandoned" and replaced by new ones, up to the planned number.
    resume_err = (out / "resume.err").read_text()
    assert (out / "resume.rc").read_text().strip() == "0", resume_err[-3000:]
    exp = rayboost.load("full", storage=out / "done")
    assert exp.status == "completed"
    trials, epochs = exp.trials(), exp.epochs()
    assert trials["trial_id"].is_unique, trials
    ended = trials[trials["status"] != "abandoned"]
    assert len(ended) == 4, trials[["trial_id", "status"]]
    assert set(ended["status"]) <= {"completed", "stopped"}, trials[["trial_id", "status"]]
    assert not epochs.duplicated(["trial_id", "epoch"]).any()
    for trial_id, own in epochs.groupby("trial_id"):
        assert own["epoch"].tolist() == list(range(1, len(own) + 1)), trial_id
    exp.ensemble()  # refuses member files that do not match ensemble.json
    assert _leftovers(out / "done") == []
