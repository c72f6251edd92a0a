"""Results: experiments read back from storage as pandas DataFrames, with no Ray running.

Names are imported on first use (see :mod:`rayboost._lazy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayboost._lazy import lazy_exports

if TYPE_CHECKING:
    from rayboost.results._experiment import Experiment, experiments, load
    from rayboost.results._frames import best_trial, epochs_frame, trial_params, trials_frame
    from rayboost.results._report import format_summary, leaderboard, render

_EXPORTS = {
    "Experiment": "rayboost.results._experiment",
    "best_trial": "rayboost.results._frames",
    "epochs_frame": "rayboost.results._frames",
    "experiments": "rayboost.results._experiment",
    "format_summary": "rayboost.results._report",
    "leaderboard": "rayboost.results._report",
    "load": "rayboost.results._experiment",
    "render": "rayboost.results._report",
    "trial_params": "rayboost.results._frames",
    "trials_frame": "rayboost.results._frames",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = [
    "Experiment",
    "best_trial",
    "epochs_frame",
    "experiments",
    "format_summary",
    "leaderboard",
    "load",
    "render",
    "trial_params",
    "trials_frame",
]
