"""The two net families: a CNN of separable/standard conv stages and a BN MLP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rayboost.models._layers import ConvStage, ConvUnit, DenseUnit, ResidualDense

__all__ = ["CNN", "MLP", "build_net", "init_weights"]


class CNN(nn.Module):
    """(N, C, H, W) -> (N, outputs): stages of conv units, each followed by a 2×2 max-pool.

    Stage i has ``convs`` conv units of ``min(filters · 2^i, max(filters, max_filters))``
    filters (an optional residual shortcut around them), then a max-pool while the map is ≥ 2
    pixels and dropout. The head is global average pooling (``head="gap"``) or the flattened
    map (``head="flatten"``), then a dense unit of ``head_units`` and the output layer.

    With ``stem="standard"`` the first conv uses a standard conv whatever ``conv`` says, as in
    Xception and MobileNet: a depthwise conv over one or three input channels has too few
    filters to learn from (every output map is a rescaled copy of the same few depthwise maps).
    """

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, p: Mapping[str, Any]) -> None:
        super().__init__()
        channels, height, width = input_shape
        # params recorded before stages, shortcuts, heads and the width cap existed build the
        # nets they trained (one conv per stage, no cap, average-pooled head) from the same keys
        first = int(p["filters"])
        cap = max(first, int(p.get("max_filters", 0))) if p.get("max_filters") else None
        convs, residual = int(p.get("convs", 1)), bool(p.get("residual", False))
        stages: list[nn.Module] = []
        for i in range(int(p["blocks"])):
            out = first * 2**i if cap is None else min(first * 2**i, cap)
            kinds = [
                "standard" if i == 0 and j == 0 and p["stem"] == "standard" else p["conv"]
                for j in range(convs)
            ]
            if (
                convs == 1 and not residual
            ):  # the unit itself: the same modules (and state keys) as a stage of one
                stages.append(
                    ConvUnit(
                        channels, out, int(p["kernel_size"]), kinds[0], p["bn"], p["activation"]
                    )
                )
            else:
                stages.append(
                    ConvStage(
                        channels,
                        out,
                        int(p["kernel_size"]),
                        kinds,
                        p["bn"],
                        p["activation"],
                        residual,
                    )
                )
            if min(height, width) >= 2:
                stages.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            if p["dropout"] > 0:
                stages.append(nn.Dropout(float(p["dropout"])))
            channels = out
        self.features = nn.Sequential(*stages)
        # (N, C, h, w) -> (N, C) by global average pooling, or -> (N, C·h·w) flattened
        self.pool: nn.Module = (
            nn.AdaptiveAvgPool2d(1) if p.get("head", "gap") == "gap" else nn.Identity()
        )
        head_in = channels if p.get("head", "gap") == "gap" else channels * height * width
        self.head = nn.Sequential(
            DenseUnit(head_in, int(p["head_units"]), p["bn"], p["activation"], float(p["dropout"])),
            nn.Linear(int(p["head_units"]), n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


class MLP(nn.Module):
    """(N, D) -> (N, outputs): ``layers`` dense units of ``units`` each, then a linear head.

    With ``residual`` every unit after the first (which changes the width) adds its input to its
    output.
    """

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, p: Mapping[str, Any]) -> None:
        super().__init__()
        width = 1
        for size in input_shape:
            width *= int(size)
        units: list[nn.Module] = []
        for i in range(int(p["layers"])):
            unit = DenseUnit(width, int(p["units"]), p["bn"], p["activation"], float(p["dropout"]))
            units.append(ResidualDense(unit) if i > 0 and p.get("residual", False) else unit)
            width = int(p["units"])
        self.body = nn.Sequential(*units)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))


def init_weights(model: nn.Module, scheme: str, activation: str) -> None:
    """Initialise conv/linear weights by ``scheme``; biases start at zero."""
    if scheme == "default":
        return
    nonlinearity = "leaky_relu" if activation == "leaky_relu" else "relu"
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            if scheme == "kaiming_normal":
                nn.init.kaiming_normal_(module.weight, nonlinearity=nonlinearity)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(module.weight, nonlinearity=nonlinearity)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(module.weight)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(module.weight)
            else:
                raise ValueError(f"unknown init {scheme!r}")
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def build_net(
    family: str, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
) -> nn.Module:
    """Build and initialise the net of ``family`` ("cnn" or "mlp") for these params."""
    model: nn.Module = (CNN if family == "cnn" else MLP)(input_shape, n_outputs, params)
    init_weights(model, params["init"], params["activation"])
    return model
