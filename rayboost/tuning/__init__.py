"""Tuning: the only package that imports Ray. Schedules net trials with Ray Tune."""

from rayboost.tuning._cluster import (
    ClusterShape,
    check_resources,
    check_shared_storage,
    cluster_shape,
    connect,
    disconnect,
)
from rayboost.tuning._jobs import (
    job_logs,
    job_status,
    list_jobs,
    source_root,
    stop_job,
    submit_job,
    wait_job,
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
    "check_shared_storage",
    "collect_members",
    "cluster_shape",
    "connect",
    "disconnect",
    "job_logs",
    "job_status",
    "list_jobs",
    "plan_search",
    "share",
    "source_root",
    "start_members",
    "stop_job",
    "submit_job",
    "tune_nets",
    "wait_job",
]
