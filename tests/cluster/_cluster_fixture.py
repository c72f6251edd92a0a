"""A real local multi-node Ray cluster (``cluster/local.sh``) for integration tests.

``local_cluster()`` starts a head and N worker nodes on this machine, each a separate
``ray start`` with its own temp dir under a unique short state dir and its own ports, token
authentication on; it yields a :class:`LocalCluster` and always runs ``local.sh down`` (which
stops only this cluster's processes; never ``ray stop``).

Clients talk to it with :attr:`LocalCluster.env` (``RAY_AUTH_MODE=token`` and the token file)
or through :meth:`LocalCluster.api` (raw HTTP with the bearer token), so the test process itself
never needs Ray's auth settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LOCAL_SH = REPO / "cluster" / "local.sh"

# Faster node-failure detection than Ray's defaults (tens of seconds): passed to every
# `ray start` through local.sh's environment (the GCS on the head reads them).
HEALTH_CHECK_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}
TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")


def ray_bin() -> Path | None:
    """The ``ray`` executable of this interpreter's environment (else the one on PATH)."""
    candidate = Path(sys.executable).with_name("ray")
    if candidate.exists():
        return candidate
    found = shutil.which("ray")
    return Path(found) if found else None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port_block(size: int) -> int | None:
    """A random block of ``size`` free ports below Linux's ephemeral range (32768+)."""
    rng = random.SystemRandom()
    for _ in range(50):
        base = rng.randrange(20000, 32000 - size)
        if all(_bindable(p) for p in range(base, base + size)):
            return base
    return None


def clean_env() -> dict[str, str]:
    """This process's environment without Ray auth/address settings (conftest sets
    RAY_AUTH_MODE=disabled for the in-process tests)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}


@dataclass(frozen=True)
class Raylet:
    index: int  # node n<index>: 0 = head
    node_id: str
    pid: int

    @property
    def is_head(self) -> bool:
        return self.index == 0


@dataclass
class LocalCluster:
    state_dir: Path
    dashboard_port: int
    workers: int
    num_cpus: int
    node_env: dict[str, str] = field(repr=False)

    @property
    def address(self) -> str:
        """Dashboard / Jobs API."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def token_path(self) -> Path:
        return self.state_dir / "auth_token"

    @property
    def token(self) -> str:
        return self.token_path.read_text().strip()

    @property
    def env(self) -> dict[str, str]:
        """Environment of an authenticated client process (CLI, `ray job submit`)."""
        return {
            **clean_env(),
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token_path),
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    # ------------------------------------------------------------------ local.sh
    def sh(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(LOCAL_SH), *args],
            env=self.node_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # ------------------------------------------------------------------ processes
    def raylets(self) -> dict[str, Raylet]:
        """This cluster's live raylets by node id, from their command lines
        (``--node_id=<hex> ... --temp_dir=<state dir>/n<i>``)."""
        found: dict[str, Raylet] = {}
        temp_re = re.compile(r"--temp_dir=" + re.escape(str(self.state_dir)) + r"/n(\d+)(?:\s|$)")
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != "raylet":
                    continue
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            temp = temp_re.search(cmd)
            node = re.search(r"--node_id=([0-9a-f]+)", cmd)
            if temp and node:
                found[node.group(1)] = Raylet(int(temp.group(1)), node.group(1), int(proc.name))
        return found

    def kill_raylet(self, raylet: Raylet) -> float:
        """SIGKILL one node's raylet; returns the time just before the signal."""
        cmd = Path(f"/proc/{raylet.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert f"{self.state_dir}/n{raylet.index}" in cmd and "raylet" in cmd, cmd[:200]
        killed_at = time.time()
        os.kill(raylet.pid, signal.SIGKILL)
        return killed_at

    # ------------------------------------------------------------------ Jobs API (HTTP)
    def api(
        self, path: str, method: str = "GET", token: str | None = None, timeout: float = 30
    ) -> Any:
        request = urllib.request.Request(
            self.address + path,
            method=method,
            headers={"Authorization": f"Bearer {token or self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def jobs(self) -> list[dict[str, Any]]:
        return self.api("/api/jobs/")

    def job_status(self, job_id: str) -> str:
        return str(self.api(f"/api/jobs/{job_id}")["status"])

    def job_logs(self, job_id: str) -> str:
        try:
            return str(self.api(f"/api/jobs/{job_id}/logs")["logs"])
        except (OSError, KeyError, ValueError) as exc:
            return f"<no logs: {exc}>"

    def stop_job(self, job_id: str) -> None:
        """Best effort (cleanup of a test that failed while its job ran)."""
        with contextlib.suppress(OSError, ValueError):
            if self.job_status(job_id) not in TERMINAL:
                self.api(f"/api/jobs/{job_id}/stop", method="POST")

    def wait_job(
        self, job_id: str, want: str | tuple[str, ...] = TERMINAL, timeout: float = 300
    ) -> str:
        """Poll until the job reaches one of ``want`` (or any terminal state); returns it.
        Fails with the job's logs on timeout or on another terminal state."""
        want = (want,) if isinstance(want, str) else want
        deadline = time.monotonic() + timeout
        status = "?"
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                status = self.job_status(job_id)
            if status in want:
                return status
            if status in TERMINAL:
                break
            time.sleep(1.0)
        raise AssertionError(
            f"job {job_id}: status {status} (wanted {'/'.join(want)}) after "
            f"{timeout - max(0.0, deadline - time.monotonic()):.0f} s; logs:\n{self.job_logs(job_id)[-6000:]}"
        )

    # ------------------------------------------------------------------ rayboost CLI
    def cli(
        self, *args: str, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """``python -m rayboost ARGS`` in a fresh process with the client environment."""
        return subprocess.run(
            [sys.executable, "-m", "rayboost", *args],
            env=self.env if env is None else env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def submit(self, *sets: str, timeout: float = 180) -> str:
        """``rayboost submit --address ... --set ...`` (no --follow); returns the job id."""
        args = ["submit", "--address", self.address]
        for item in sets:
            args += ["--set", item]
        done = self.cli(*args, timeout=timeout)
        assert done.returncode == 0, (
            f"submit failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
        job_id = done.stdout.strip().splitlines()[0]
        assert job_id.startswith("rayboost-"), done.stdout
        return job_id


def _up_failure(cluster: LocalCluster, up: subprocess.CompletedProcess) -> str:
    logs = []
    for log in sorted(cluster.state_dir.glob("start-n*.log")):
        with contextlib.suppress(OSError):
            logs.append(f"--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-20:]))
    return f"local.sh up failed ({up.returncode}):\n{up.stdout}\n{up.stderr}\n" + "\n".join(logs)


@contextlib.contextmanager
def local_cluster(
    workers: int = 2, num_cpus: int = 1, up_timeout: int = 240
) -> Iterator[LocalCluster]:
    """Start ``cluster/local.sh up --workers N --num-cpus C`` in a unique state dir on random
    ports; always ``local.sh down --purge`` afterwards."""
    ray = ray_bin()
    if ray is None:
        raise RuntimeError("no ray executable next to the interpreter or on PATH")
    # GCS, dashboard, client; then per node 10 node ports (6 used) and 100 worker ports
    block = 3 + 110 * (workers + 1)
    base = free_port_block(block)
    if base is None:
        raise RuntimeError(f"no free block of {block} ports")
    state_dir = Path(tempfile.mkdtemp(prefix="rbm", dir="/tmp"))  # short: Ray's socket paths
    node_env = {
        **clean_env(),
        **HEALTH_CHECK_ENV,
        "RAY_BIN": str(ray),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAYBOOST_CLUSTER_DIR": str(state_dir),
        "RAYBOOST_GCS_PORT": str(base),
        "RAYBOOST_DASHBOARD_PORT": str(base + 1),
        "RAYBOOST_CLIENT_PORT": str(base + 2),
        "RAYBOOST_PORT_BASE": str(base + 3),
        "RAYBOOST_WORKER_PORT_BASE": str(base + 3 + 10 * (workers + 1)),
        "RAYBOOST_UP_TIMEOUT": str(up_timeout),
        "RAYBOOST_STOP_TIMEOUT": "10",
    }
    cluster = LocalCluster(state_dir, base + 1, workers, num_cpus, node_env)
    try:
        up = cluster.sh(
            "up", "--workers", str(workers), "--num-cpus", str(num_cpus), timeout=up_timeout + 120
        )
        if up.returncode != 0:
            raise RuntimeError(_up_failure(cluster, up))
        if len(cluster.raylets()) != workers + 1:
            raise RuntimeError(f"expected {workers + 1} raylets, found {cluster.raylets()}")
        yield cluster
    finally:
        down = cluster.sh("down", "--purge", timeout=180)
        if down.returncode != 0:  # keep going: report, do not hide the test's own error
            print(
                f"local.sh down failed ({down.returncode}):\n{down.stdout}\n{down.stderr}",
                file=sys.stderr,
            )
        shutil.rmtree(state_dir, ignore_errors=True)


def epoch_records(experiment_root: Path) -> list[dict[str, Any]]:
    """Every raw epoch record the trials wrote (``trials/<id>/epochs.jsonl``), repeats
    included; tolerant of a line being written right now."""
    records = []
    for path in sorted((experiment_root / "trials").glob("*/epochs.jsonl")):
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
    return records
