"""One driver per experiment: an exclusive lock file beside the experiment folder, with its
owner and a heartbeat.

``<storage>/.<name>.lock`` holds the owner's pid, host and start time and a heartbeat the owner
rewrites every ``HEARTBEAT_S`` seconds. A second driver for the same name finds the lock and
stops with who holds it, unless the holder is gone: a pid that no longer runs on this host, or a
heartbeat older than ``STALE_S`` (another host, or a frozen process). Such a stale lock is taken
over with a message. The lock sits outside the experiment folder so that it also guards the
folder's creation. Readers use the heartbeat to tell a running experiment from one whose driver
died without a word (SIGKILL, OOM, a lost node): see :func:`holder`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayboost._errors import ExperimentError
from rayboost._trust import make_private

__all__ = ["HEARTBEAT_S", "STALE_S", "ExperimentLock", "LockInfo", "holder", "lock_path"]

HEARTBEAT_S = 10.0
STALE_S = 60.0


def lock_path(root: Path) -> Path:
    return root.with_name(f".{root.name}.lock")


@dataclass(frozen=True)
class LockInfo:
    pid: int
    host: str
    started_at: float
    heartbeat_at: float

    def alive(self, now: float | None = None) -> bool:
        """Whether the holder still runs: its pid on this host, else a recent heartbeat."""
        now = time.time() if now is None else now
        if self.host == socket.gethostname():
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass  # it exists, under another user
        return now - self.heartbeat_at < STALE_S

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started_at))
        return f"pid {self.pid} on {self.host} since {since} (heartbeat {time.time() - self.heartbeat_at:.0f} s ago)"


def _read(path: Path) -> LockInfo | None:
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        return LockInfo(
            int(raw["pid"]), str(raw["host"]), float(raw["started_at"]), float(raw["heartbeat_at"])
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):  # torn by a holder that died while writing it
        return LockInfo(-1, "?", 0.0, path.stat().st_mtime if path.exists() else 0.0)


def holder(root: Path) -> LockInfo | None:
    """Who holds experiment ``root`` now, or None if nobody does (no lock, or a stale one)."""
    info = _read(lock_path(root))
    return info if info is not None and info.alive() else None


class ExperimentLock:
    """``with ExperimentLock(root, verbose):`` — held for the driver's whole run."""

    def __init__(self, root: Path, verbose: bool = True) -> None:
        self.path = lock_path(root)
        self.name = root.name
        self.verbose = verbose
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mine: LockInfo | None = None
        self._made_storage = False

    def _record(self, heartbeat: float) -> str:
        assert self._mine is not None
        return json.dumps(
            {
                "pid": self._mine.pid,
                "host": self._mine.host,
                "started_at": self._mine.started_at,
                "heartbeat_at": heartbeat,
            }
        )

    def acquire(self) -> None:
        self._made_storage = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._made_storage:
            make_private(self.path.parent)
        now = time.time()
        self._mine = LockInfo(os.getpid(), socket.gethostname(), now, now)
        for _ in range(4):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                info = _read(self.path)
                if info is None:
                    continue  # released in between: try again
                quiet_for = time.time() - info.heartbeat_at
                if info.alive() and info.host != self._mine.host and quiet_for > 2 * HEARTBEAT_S:
                    # beats missed on another host: wait until it beats again or is stale
                    time.sleep(max(0.0, STALE_S - quiet_for) + 0.5)
                    info = _read(self.path)
                    if info is None:
                        continue
                if info.alive():
                    raise ExperimentError(
                        f"experiment {self.name!r} is in use by {info.describe()}; wait for that run to end "
                        f"or stop it (a lock left by a dead process is taken over by itself)"
                    ) from None
                if self.verbose:
                    print(
                        f"rayboost: taking over the lock of {self.name!r} from {info.describe()}: it is gone",
                        flush=True,
                    )
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(self._record(now))
            break
        else:
            raise ExperimentError(
                f"could not lock experiment {self.name!r} ({self.path}); try again"
            )
        self._thread = threading.Thread(target=self._beat, name="rayboost-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                tmp = self.path.with_name(self.path.name + f".{os.getpid()}")
                tmp.write_text(self._record(time.time()))
                os.replace(tmp, self.path)
            except OSError:
                pass  # storage briefly unavailable: the next beat tries again

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        info = _read(self.path)
        if (
            info is not None
            and self._mine is not None
            and (info.pid, info.host) == (self._mine.pid, self._mine.host)
        ):
            self.path.unlink(missing_ok=True)
        if (
            self._made_storage
        ):  # a run refused before it wrote anything leaves no empty folder behind
            try:
                self.path.parent.rmdir()
            except OSError:
                pass  # not empty: it holds the experiment

    def __enter__(self) -> ExperimentLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
