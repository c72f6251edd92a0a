"""Model families: PyTorch nets (CNN with separable convs, BN MLP); plain PyTorch, no Ray."""

from rayboost.models._layers import ACTIVATIONS, BN_PLACEMENTS, ConvUnit, DenseUnit, SeparableConv2d
from rayboost.models._linear import LinearModel
from rayboost.models._measure import count_madds, count_params
from rayboost.models._nets import CNN, MLP, build_net, init_weights
from rayboost.models._params import (
    FAMILIES,
    Param,
    default_params,
    param_specs,
    resolve_space,
    validate_params,
)
from rayboost.models._saved import NetModel
from rayboost.models._train import NetTrainer, metric_name, predict_output, target_scaling
from rayboost.models._xgboost import XGBoostModel

MEMBER_KINDS = {"net": NetModel, "xgboost": XGBoostModel, "linear": LinearModel}
"""Model families that can be ensemble members, by kind; each has predict_output/save/load."""

__all__ = [
    "MEMBER_KINDS",
    "LinearModel",
    "NetModel",
    "XGBoostModel",
    "ACTIVATIONS",
    "BN_PLACEMENTS",
    "CNN",
    "FAMILIES",
    "MLP",
    "ConvUnit",
    "DenseUnit",
    "NetTrainer",
    "Param",
    "SeparableConv2d",
    "build_net",
    "count_madds",
    "count_params",
    "default_params",
    "init_weights",
    "metric_name",
    "param_specs",
    "predict_output",
    "resolve_space",
    "target_scaling",
    "validate_params",
]
