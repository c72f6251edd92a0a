"""Who may write into the experiment store, and what rayboost refuses to read from it.

Ray Tune keeps its experiment state (``<experiment>/tune/round-<k>/``) as pickles, and reading a
pickle runs whatever code it names. So before a resume hands a round to Tune, every folder on the
way to it and every file in it must belong to the user running rayboost and must not be writable
by group or others; otherwise the resume stops and says why. rayboost's own files are read
without pickle: JSON, NumPy arrays (``allow_pickle=False``), XGBoost's UBJSON and torch state
dicts loaded with ``weights_only=True``.

Folders rayboost creates (the storage folder when missing, each experiment folder) get mode 0700,
or 0750 when ``RAYBOOST_GROUP_READ=1`` (a shared cluster whose users share one group and should
read each other's results).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rayboost._errors import ExperimentError

__all__ = ["check_trusted", "folder_mode", "make_private"]


def folder_mode() -> int:
    return 0o750 if os.environ.get("RAYBOOST_GROUP_READ") == "1" else 0o700


def make_private(folder: Path) -> None:
    """Give a folder rayboost created its mode (see :func:`folder_mode`)."""
    os.chmod(folder, folder_mode())


def check_trusted(paths: list[Path], why: str) -> None:
    """Each path must belong to this user and be writable by nobody else (ExperimentError)."""
    me = os.getuid() if hasattr(os, "getuid") else None
    for path in paths:
        info = path.lstat()
        problem = None
        if stat.S_ISLNK(info.st_mode):
            problem = "is a symbolic link"
        elif me is not None and info.st_uid != me:
            problem = f"belongs to user id {info.st_uid}, not to you ({me})"
        elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            who = "others" if info.st_mode & stat.S_IWOTH else "its group"
            problem = f"is writable by {who} (mode {stat.S_IMODE(info.st_mode):o})"
        if problem:
            raise ExperimentError(
                f"refusing to {why}: {path} {problem}, and it is read with pickle, which runs code; "
                f"if you trust its contents, make it yours and private (chown, chmod go-w) and resume again"
            )
