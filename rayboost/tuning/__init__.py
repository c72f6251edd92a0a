"""Tuning: the only package that imports Ray. Schedules net trials with Ray Tune."""

from rayboost.tuning._cluster import (
    ClusterShape,
    check_resources,
    cluster_shape,
    connect,
    disconnect,
)
from rayboost.tuning._space import SearchPlan, plan_search
from rayboost.tuning._tune import TuneOutcome, tune_nets

__all__ = [
    "ClusterShape",
    "SearchPlan",
    "TuneOutcome",
    "check_resources",
    "cluster_shape",
    "connect",
    "disconnect",
    "plan_search",
    "tune_nets",
]
