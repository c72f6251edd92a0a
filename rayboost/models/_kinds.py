"""Model families that can be ensemble members, by kind."""

from __future__ import annotations

from rayboost.models._linear import LinearModel
from rayboost.models._saved import NetModel
from rayboost.models._xgboost import XGBoostModel

MEMBER_KINDS = {"net": NetModel, "xgboost": XGBoostModel, "linear": LinearModel}
"""Each has predict_output/save/load."""
