"""Data: load bundled or user data, validate it, split it once, scale it on train rows.

Names are imported on first use (see :mod:`rayboost._lazy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayboost._lazy import lazy_exports

if TYPE_CHECKING:
    from rayboost.data._load import BUNDLED, Dataset, encode_table, load_dataset, load_features
    from rayboost.data._prep import Scaler, TrialData, make_trial_data
    from rayboost.data._split import Split, split_dataset
    from rayboost.data._table import TableEncoder

_EXPORTS = {
    "BUNDLED": "rayboost.data._load",
    "Dataset": "rayboost.data._load",
    "Scaler": "rayboost.data._prep",
    "Split": "rayboost.data._split",
    "TableEncoder": "rayboost.data._table",
    "TrialData": "rayboost.data._prep",
    "encode_table": "rayboost.data._load",
    "load_dataset": "rayboost.data._load",
    "load_features": "rayboost.data._load",
    "make_trial_data": "rayboost.data._prep",
    "split_dataset": "rayboost.data._split",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = [
    "BUNDLED",
    "Dataset",
    "Scaler",
    "Split",
    "TableEncoder",
    "TrialData",
    "encode_table",
    "load_dataset",
    "load_features",
    "make_trial_data",
    "split_dataset",
]
