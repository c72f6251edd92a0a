"""Small file helpers: atomic writes so that nothing is ever half-written."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["append_jsonl", "read_json", "read_jsonl", "write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(json.dumps(record, default=_default) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read JSON lines; a torn last line (a writer that died mid-line) is skipped."""
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
