"""Tuning: the only package that imports Ray. Schedules net trials with Ray Tune.

Names are imported on first use (see :mod:`rayboost._lazy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayboost._lazy import lazy_exports

if TYPE_CHECKING:
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
    from rayboost.tuning._refit import RefitJob, RefitResult, choose_refits, rows_digest, run_refits
    from rayboost.tuning._space import (
        SearchPlan,
        auto_max_epochs,
        auto_time_budget_s,
        grace_period,
        plan_search,
    )
    from rayboost.tuning._tune import TuneOutcome, asha_rungs, share, tune_nets
    from rayboost.tuning._xgboost import (
        XGBOOST_SPACE,
        XGBoostSearch,
        search_xgboost,
        xgboost_score_name,
    )

_EXPORTS = {
    "ClusterShape": "rayboost.tuning._cluster",
    "FittedMember": "rayboost.tuning._members",
    "RefitJob": "rayboost.tuning._refit",
    "RefitResult": "rayboost.tuning._refit",
    "SearchPlan": "rayboost.tuning._space",
    "TuneOutcome": "rayboost.tuning._tune",
    "XGBOOST_SPACE": "rayboost.tuning._xgboost",
    "XGBoostSearch": "rayboost.tuning._xgboost",
    "asha_rungs": "rayboost.tuning._tune",
    "auto_max_epochs": "rayboost.tuning._space",
    "auto_time_budget_s": "rayboost.tuning._space",
    "check_resources": "rayboost.tuning._cluster",
    "check_shared_storage": "rayboost.tuning._cluster",
    "choose_refits": "rayboost.tuning._refit",
    "cluster_shape": "rayboost.tuning._cluster",
    "collect_members": "rayboost.tuning._members",
    "connect": "rayboost.tuning._cluster",
    "disconnect": "rayboost.tuning._cluster",
    "grace_period": "rayboost.tuning._space",
    "job_logs": "rayboost.tuning._jobs",
    "job_status": "rayboost.tuning._jobs",
    "list_jobs": "rayboost.tuning._jobs",
    "plan_search": "rayboost.tuning._space",
    "rows_digest": "rayboost.tuning._refit",
    "run_refits": "rayboost.tuning._refit",
    "search_xgboost": "rayboost.tuning._xgboost",
    "share": "rayboost.tuning._tune",
    "source_root": "rayboost.tuning._jobs",
    "start_members": "rayboost.tuning._members",
    "stop_job": "rayboost.tuning._jobs",
    "submit_job": "rayboost.tuning._jobs",
    "tune_nets": "rayboost.tuning._tune",
    "wait_job": "rayboost.tuning._jobs",
    "xgboost_score_name": "rayboost.tuning._xgboost",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = [
    "ClusterShape",
    "FittedMember",
    "RefitJob",
    "RefitResult",
    "SearchPlan",
    "TuneOutcome",
    "XGBOOST_SPACE",
    "XGBoostSearch",
    "asha_rungs",
    "auto_max_epochs",
    "auto_time_budget_s",
    "check_resources",
    "check_shared_storage",
    "choose_refits",
    "cluster_shape",
    "collect_members",
    "connect",
    "disconnect",
    "grace_period",
    "job_logs",
    "job_status",
    "list_jobs",
    "plan_search",
    "rows_digest",
    "run_refits",
    "search_xgboost",
    "share",
    "source_root",
    "start_members",
    "stop_job",
    "submit_job",
    "tune_nets",
    "wait_job",
    "xgboost_score_name",
]
