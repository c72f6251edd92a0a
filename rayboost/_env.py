"""The one place where rayboost reads environment variables."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CONFIG_ENV", "config_yaml", "default_storage", "ray_address"]


def default_storage() -> Path:
    """Where experiments live unless a config says otherwise (``RAYBOOST_STORAGE``)."""
    return Path(os.environ.get("RAYBOOST_STORAGE", "~/rayboost_results")).expanduser()


def ray_address() -> str | None:
    """The cluster a Ray job runs in (Ray sets ``RAY_ADDRESS`` for job entrypoints)."""
    return os.environ.get("RAY_ADDRESS") or None


CONFIG_ENV = "RAYBOOST_CONFIG_YAML"


def config_yaml() -> str | None:
    """A resolved config sent along with a submitted job (``rayboost submit`` sets it)."""
    return os.environ.get(CONFIG_ENV) or None
