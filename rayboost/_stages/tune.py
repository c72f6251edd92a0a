"""The tune stage: the net search on Ray Tune, recorded as done with the trials it ran."""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from rayboost._io import storage_full
from rayboost._layout import ExperimentPaths
from rayboost._meta import ExperimentMeta
from rayboost.config import Config

if TYPE_CHECKING:
    from rayboost.tuning import SearchPlan

__all__ = ["tune_stage"]


def tune_stage(
    cfg: Config,
    plan: SearchPlan,
    data_ref: Any,
    meta: ExperimentMeta,
    slots: int,
    paths: ExperimentPaths,
    deadline: float | None,
    verbose: bool,
) -> ExperimentMeta:
    """Search (or restore and finish) the trials, then mark the stage done."""
    from rayboost import tuning

    outcome = tuning.tune_nets(
        cfg,
        plan,
        data_ref,
        meta.family,
        meta.metric,
        meta.mode,
        slots,
        paths,
        verbose=verbose,
        deadline=deadline,
    )
    if outcome.errors and storage_full(None, paths.root) is not None:
        # trials that failed to write are restored from their last checkpoint by a resume,
        # which needs this stage still open
        raise OSError(errno.ENOSPC, f"{outcome.errors} trial(s) failed writing to a full storage")
    stages = {**meta.stages, "tune": True}
    return meta.update(
        paths, stages=stages, tuned_samples=cfg.search.num_samples, tune_trial_ids=outcome.all_ids
    )
