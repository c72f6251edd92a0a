"""The experiment store's file rules: whole files and folders or none, appends that cannot
swallow a record."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from rayboost._errors import StorageFullError
from rayboost._io import (
    append_jsonl,
    full_storage_is_an_error,
    read_jsonl,
    storage_full,
    write_file_atomic,
    write_folder_atomic,
    write_text_atomic,
)


def test_a_torn_line_loses_only_its_own_record(tmp_path):
    path = tmp_path / "epochs.jsonl"
    append_jsonl(path, {"epoch": 1})
    with path.open("a") as handle:  # a writer killed mid-line
        handle.write('{"epoch": 2, "val_acc')
    append_jsonl(path, {"epoch": 3})
    append_jsonl(path, {"epoch": 4})
    assert [r["epoch"] for r in read_jsonl(path)] == [1, 3, 4]


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "summary.json"
    write_text_atomic(path, '{"v": 1}')

    def broken(tmp):
        tmp.write_text('{"v": 2, "half')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_file_atomic(path, broken)
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left


def test_the_temporary_file_keeps_the_suffix_writers_read(tmp_path):
    seen = []
    write_file_atomic(
        tmp_path / "model.ubj", lambda tmp: (seen.append(tmp.suffix), tmp.write_bytes(b"x"))
    )
    assert seen == [".ubj"] and (tmp_path / "model.ubj").read_bytes() == b"x"


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "members" / "xgboost"
    write_folder_atomic(
        folder, lambda d: ((d / "model.ubj").write_text("old"), (d / "refit").mkdir())
    )

    def broken(d):
        (d / "model.ubj").write_text("new")
        raise OSError("killed")

    with pytest.raises(OSError):
        write_folder_atomic(folder, broken)
    assert (folder / "model.ubj").read_text() == "old" and (folder / "refit").is_dir()
    write_folder_atomic(folder, lambda d: (d / "model.ubj").write_text("new"))
    assert sorted(p.name for p in folder.iterdir()) == [
        "model.ubj"
    ]  # nothing of the old one mixed in
    assert sorted(p.name for p in folder.parent.iterdir()) == [
        "xgboost"
    ]  # no .partial or .old left


def test_experiment_record_round_trips_every_field_and_keeps_unknown_keys(tmp_path):
    from rayboost._layout import ExperimentPaths
    from rayboost._meta import ExperimentMeta

    paths = ExperimentPaths(tmp_path / "exp")
    paths.root.mkdir()
    meta = ExperimentMeta(
        name="exp",
        status="running",
        created_at="t",
        rayboost_version="0",
        dataset="pixels",
        task="classification",
        family="cnn",
        metric="accuracy",
        mode="max",
        classes=None,
        label=None,
        input_shape=[1, 28, 28],
        feature_names=None,
    )
    meta.write(paths)
    assert ExperimentMeta.read(paths) == meta
    raw = json.loads(paths.meta.read_text())
    paths.meta.write_text(json.dumps({**raw, "from_a_later_version": 1}))
    again = ExperimentMeta.read(paths)
    assert again.extra == {"from_a_later_version": 1}
    again.update(paths, status="completed", stages={"tune": True, "ensemble": True})
    stored = json.loads(paths.meta.read_text())
    assert (
        stored["from_a_later_version"] == 1
        and stored["status"] == "completed"
        and stored["feature_names"] is None
    )


def test_storage_full_is_told_by_errno_anywhere_in_the_chain(tmp_path: Path) -> None:
    assert storage_full(ValueError("a bug"), tmp_path) is None  # this disk has room
    assert storage_full(OSError(errno.ENOSPC, "No space left on device"), tmp_path)
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as inner:
            raise RuntimeError("a writer's own message") from inner
    except RuntimeError as outer:
        assert storage_full(outer, tmp_path / "not" / "yet")  # a folder still to be made
    with pytest.raises(StorageFullError, match=r"is full \(.*free\): free space there, then go"):
        with full_storage_is_an_error(tmp_path, lambda: "go"):
            raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(ValueError), full_storage_is_an_error(tmp_path, "go"):
        raise ValueError("a bug stays a bug")
