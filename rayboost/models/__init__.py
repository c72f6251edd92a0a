"""Model families: PyTorch nets (CNN with separable convs, BN MLP); plain PyTorch, no Ray.

Names are imported on first use (see :mod:`rayboost._lazy`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayboost._lazy import lazy_exports

if TYPE_CHECKING:
    from rayboost.models._kinds import MEMBER_KINDS, MemberModel
    from rayboost.models._layers import (
        ACTIVATIONS,
        BN_PLACEMENTS,
        ConvStage,
        ConvUnit,
        DenseUnit,
        ResidualDense,
        SeparableConv2d,
    )
    from rayboost.models._linear import LinearModel
    from rayboost.models._measure import count_madds, count_params
    from rayboost.models._nets import CNN, MLP, build_net, init_weights
    from rayboost.models._params import (
        FAMILIES,
        SPACE_PRESETS,
        Param,
        default_params,
        param_specs,
        portfolio,
        resolve_space,
        validate_params,
    )
    from rayboost.models._refit import refit_net
    from rayboost.models._saved import NetModel
    from rayboost.models._train import (
        NetTrainer,
        lr_at,
        metric_name,
        predict_output,
        shift_images,
        shift_pixels,
        target_scaling,
    )
    from rayboost.models._xgboost import XGBoostModel

_EXPORTS = {
    "ACTIVATIONS": "rayboost.models._layers",
    "BN_PLACEMENTS": "rayboost.models._layers",
    "CNN": "rayboost.models._nets",
    "FAMILIES": "rayboost.models._params",
    "MEMBER_KINDS": "rayboost.models._kinds",
    "MemberModel": "rayboost.models._kinds",
    "MLP": "rayboost.models._nets",
    "ConvStage": "rayboost.models._layers",
    "ConvUnit": "rayboost.models._layers",
    "DenseUnit": "rayboost.models._layers",
    "LinearModel": "rayboost.models._linear",
    "NetModel": "rayboost.models._saved",
    "NetTrainer": "rayboost.models._train",
    "Param": "rayboost.models._params",
    "ResidualDense": "rayboost.models._layers",
    "SPACE_PRESETS": "rayboost.models._params",
    "SeparableConv2d": "rayboost.models._layers",
    "XGBoostModel": "rayboost.models._xgboost",
    "build_net": "rayboost.models._nets",
    "count_madds": "rayboost.models._measure",
    "count_params": "rayboost.models._measure",
    "default_params": "rayboost.models._params",
    "init_weights": "rayboost.models._nets",
    "lr_at": "rayboost.models._train",
    "metric_name": "rayboost.models._train",
    "param_specs": "rayboost.models._params",
    "portfolio": "rayboost.models._params",
    "predict_output": "rayboost.models._train",
    "refit_net": "rayboost.models._refit",
    "resolve_space": "rayboost.models._params",
    "shift_images": "rayboost.models._train",
    "shift_pixels": "rayboost.models._train",
    "target_scaling": "rayboost.models._train",
    "validate_params": "rayboost.models._params",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = [
    "ACTIVATIONS",
    "BN_PLACEMENTS",
    "CNN",
    "ConvStage",
    "ConvUnit",
    "DenseUnit",
    "FAMILIES",
    "LinearModel",
    "MEMBER_KINDS",
    "MemberModel",
    "MLP",
    "NetModel",
    "NetTrainer",
    "Param",
    "ResidualDense",
    "SPACE_PRESETS",
    "SeparableConv2d",
    "XGBoostModel",
    "build_net",
    "count_madds",
    "count_params",
    "default_params",
    "init_weights",
    "lr_at",
    "metric_name",
    "param_specs",
    "portfolio",
    "predict_output",
    "refit_net",
    "resolve_space",
    "shift_images",
    "shift_pixels",
    "target_scaling",
    "validate_params",
]
