"""Tuning: the only package that imports Ray. Schedules net trials with Ray Tune."""

from rayboost.tuning._cluster import (
    ClusterShape,
    check_resources,
    cluster_shape,
    connect,
    disconnect,
)
from rayboost.tuning._members import FittedMember, collect_members, start_members
from rayboost.tuning._space import SearchPlan, plan_search
from rayboost.tuning._tune import TuneOutcome, share, tune_nets

__all__ = [
    "ClusterShape",
    "FittedMember",
    "SearchPlan",
    "TuneOutcome",
    "check_resources",
    "collect_members",
    "cluster_shape",
    "connect",
    "disconnect",
    "plan_search",
    "share",
    "start_members",
    "tune_nets",
]
