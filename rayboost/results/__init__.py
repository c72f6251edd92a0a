"""Results: experiments read back from storage as pandas DataFrames, with no Ray running."""

from rayboost.results._experiment import Experiment, experiments, load
from rayboost.results._frames import best_trial, epochs_frame, trial_params, trials_frame
from rayboost.results._report import format_summary, leaderboard, render

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
