"""The two net families: a CNN of separable/standard conv blocks and a BN MLP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rayboost.models._layers import ConvUnit, DenseUnit

__all__ = ["CNN", "MLP", "build_net", "init_weights"]


class CNN(nn.Module):
    """(N, C, H, W) -> (N, outputs). Blocks widen ×2 and pool ×2 while the map is ≥ 2 pixels.

    With ``stem="standard"`` the first block uses a standard conv whatever ``conv`` says, as in
    Xception and MobileNet: a depthwise conv over one or three input channels has too few
    filters to learn from (every output map is a rescaled copy of the same few depthwise maps).
    """

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, p: Mapping[str, Any]) -> None:
        super().__init__()
        channels, height, width = input_shape
        blocks: list[nn.Module] = []
        for i in range(int(p["blocks"])):
            out = int(p["filters"]) * 2**i
            conv = "standard" if i == 0 and p["stem"] == "standard" else p["conv"]
            blocks.append(ConvUnit(channels, out, int(p["kernel_size"]), conv, p["bn"], p["activation"]))
            if min(height, width) >= 2:
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            if p["dropout"] > 0:
                blocks.append(nn.Dropout(float(p["dropout"])))
            channels = out
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)  # (N, C, h, w) -> (N, C, 1, 1)
        self.head = nn.Sequential(
            DenseUnit(channels, int(p["head_units"]), p["bn"], p["activation"], float(p["dropout"])),
            nn.Linear(int(p["head_units"]), n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)).flatten(1))


class MLP(nn.Module):
    """(N, D) -> (N, outputs): ``layers`` dense units of ``units`` each, then a linear head."""

    def __init__(self, input_shape: tuple[int, ...], n_outputs: int, p: Mapping[str, Any]) -> None:
        super().__init__()
        width = 1
        for size in input_shape:
            width *= int(size)
        units: list[nn.Module] = []
        for _ in range(int(p["layers"])):
            units.append(DenseUnit(width, int(p["units"]), p["bn"], p["activation"], float(p["dropout"])))
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
