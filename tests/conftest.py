"""Shared fixtures: one embedded Ray for the tests that schedule trials."""

from __future__ import annotations

import os

import pytest

# Tests decide the auth mode explicitly: a token file may exist in ~/.ray on this machine.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def local_ray():
    """An embedded 2-CPU Ray shared by the integration tests (the pipeline reuses it), started
    the way ``rayboost run`` starts one."""
    import ray

    from rayboost.config import RayConfig
    from rayboost.tuning import connect, disconnect

    started = connect(RayConfig(num_cpus=2))
    yield ray
    if started:
        disconnect()
