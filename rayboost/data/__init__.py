"""Data: load bundled or user data, validate it, split it once, scale it on train rows."""

from rayboost.data._load import BUNDLED, Dataset, load_dataset, load_features
from rayboost.data._prep import Scaler, TrialData, make_trial_data
from rayboost.data._split import Split, split_dataset

__all__ = [
    "BUNDLED",
    "Dataset",
    "Scaler",
    "Split",
    "TrialData",
    "load_dataset",
    "load_features",
    "make_trial_data",
    "split_dataset",
]
