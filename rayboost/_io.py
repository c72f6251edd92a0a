"""Small file helpers: atomic writes so that nothing is ever half-written."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rayboost._errors import RayboostError, StorageFullError

__all__ = [
    "append_jsonl",
    "full_storage_is_an_error",
    "storage_full",
    "read_json",
    "read_jsonl",
    "write_file_atomic",
    "write_folder_atomic",
    "write_json_atomic",
    "write_text_atomic",
]


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` fills a temporary file beside ``path`` (same suffix, for writers that read
    it), which is synced and renamed over ``path``: readers see the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_text_atomic(path: Path, text: str) -> None:
    write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_folder_atomic(folder: Path, fill: Callable[[Path], None]) -> None:
    """``fill(partial)`` writes a whole folder beside ``folder``, which then takes its place: a
    reader finds the old folder, the new one, or (after a crash mid-swap) none, never a mix."""
    folder = Path(folder)
    partial, old = (
        folder.with_name(f".{folder.name}.partial"),
        folder.with_name(f".{folder.name}.old"),
    )
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        fill(partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _fsync_dir(partial)
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(partial, folder)
    _fsync_dir(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


FULL_BELOW = 16 * 2**20
"""A failure while the store's file system has less than this free is taken as a full disk:
writers such as XGBoost's report a short write without its errno."""


def storage_full(exc: BaseException | None, folder: Path) -> str | None:
    """The free space left (as text) when ``exc`` (a failure here, or one in another process
    when None) comes from a full disk or quota under ``folder`` (errno ENOSPC or EDQUOT anywhere
    in its chain, or under :data:`FULL_BELOW` free); else None."""
    seen: set[int] = set()
    chained: BaseException | None = exc
    by_errno = False
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        by_errno |= isinstance(chained, OSError) and chained.errno in (errno.ENOSPC, errno.EDQUOT)
        chained = chained.__cause__ or chained.__context__
    probe = Path(folder)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return "no space" if by_errno else None
    if not by_errno and free >= FULL_BELOW:
        return None
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if free < 1024 or unit == "GiB":
            return f"{free:.0f} {unit}" if unit == "bytes" else f"{free:.1f} {unit}"
        free /= 1024
    return None  # not reached


@contextlib.contextmanager
def full_storage_is_an_error(storage: Path, then: str | Callable[[], str]) -> Iterator[None]:
    """A failure from a full ``storage`` becomes one :class:`StorageFullError` line that says
    what to do: free space, ``then`` (how to continue, or a function that says it)."""
    try:
        yield
    except RayboostError:
        raise
    except Exception as exc:
        free = storage_full(exc, storage)
        if free is None:
            raise
        raise StorageFullError(
            f"storage {storage} is full ({free} free): free space there, then "
            f"{then() if callable(then) else then}"
        ) from exc


def _default(value: Any) -> Any:
    """NumPy scalars (as search algorithms return them) become plain Python values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def write_json_atomic(path: Path, record: Any) -> None:
    write_text_atomic(path, json.dumps(record, indent=2, default=_default))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """One record per line, written with one call. A line a dying writer left without its
    newline is closed first, so that it cannot swallow this record too."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, default=_default) + "\n").encode()
    with path.open("a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                line = b"\n" + line
        handle.write(line)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read JSON lines; a torn line (a writer that died mid-line) is skipped: the record it held
    is written again by whoever repeats that work (a restored trial repeats its epochs since
    the last checkpoint)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
