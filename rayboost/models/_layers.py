"""Small building blocks, one idea each: separable conv, conv unit, conv stage, dense unit."""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "BN_PLACEMENTS",
    "ConvStage",
    "ConvUnit",
    "DenseUnit",
    "ResidualDense",
    "SeparableConv2d",
    "make_activation",
]

BN_PLACEMENTS = ("before", "after", "none")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
}


def make_activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


class SeparableConv2d(nn.Module):
    """Depthwise k×k conv per input channel, then a 1×1 pointwise conv mixing channels.

    Parameters (no bias): k²·C_in + C_in·C_out, against k²·C_in·C_out for a standard conv.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True
    ) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            in_channels,
            in_channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=in_channels,
            bias=False,
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (N, C_in, H, W) -> (N, C_in, H, W) -> (N, C_out, H, W)
        return self.pointwise(self.depthwise(x))


def _placed(
    core: nn.Module, bn: nn.Module | None, act: nn.Module, placement: str
) -> list[nn.Module]:
    if placement == "before":  # core -> BN -> activation
        return [core, bn, act]  # type: ignore[list-item]
    if placement == "after":  # core -> activation -> BN
        return [core, act, bn]  # type: ignore[list-item]
    return [core, act]


class ConvUnit(nn.Sequential):
    """(N, C_in, H, W) -> (N, C_out, H, W): conv, BatchNorm placed as asked, activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        conv: str,
        bn: str,
        activation: str,
    ) -> None:
        bias = bn != "before"  # BN's beta replaces the bias when BN follows the conv directly
        core: nn.Module
        if conv == "separable":
            core = SeparableConv2d(in_channels, out_channels, kernel_size, bias=bias)
        else:
            core = nn.Conv2d(
                in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias
            )
        norm = nn.BatchNorm2d(out_channels) if bn != "none" else None
        super().__init__(*_placed(core, norm, make_activation(activation), bn))


class DenseUnit(nn.Sequential):
    """(N, D_in) -> (N, D_out): linear, BatchNorm placed as asked, activation, dropout."""

    def __init__(
        self, in_features: int, out_features: int, bn: str, activation: str, dropout: float
    ) -> None:
        core = nn.Linear(in_features, out_features, bias=bn != "before")
        norm = nn.BatchNorm1d(out_features) if bn != "none" else None
        layers = _placed(core, norm, make_activation(activation), bn)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class ConvStage(nn.Module):
    """(N, C_in, H, W) -> (N, C_out, H, W): ``convs`` conv units, with an optional shortcut.

    The first unit maps C_in to C_out, the others keep C_out. With ``residual`` the stage's
    input is added to its output: as it is when C_in = C_out, else through a 1×1 conv (and
    BatchNorm unless ``bn`` is "none"), the projection shortcut of ResNet.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        kinds: list[str],
        bn: str,
        activation: str,
        residual: bool,
    ) -> None:
        super().__init__()
        units = []
        for i, kind in enumerate(kinds):
            units.append(
                ConvUnit(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    kernel_size,
                    kind,
                    bn,
                    activation,
                )
            )
        self.units = nn.Sequential(*units)
        self.shortcut: nn.Module | None = None
        if residual:
            if in_channels == out_channels:
                self.shortcut = nn.Identity()
            else:
                proj: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 1, bias=bn == "none")]
                if bn != "none":
                    proj.append(nn.BatchNorm2d(out_channels))
                self.shortcut = nn.Sequential(*proj)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.units(x)
        return out if self.shortcut is None else out + self.shortcut(x)


class ResidualDense(nn.Module):
    """(N, D) -> (N, D): ``x + unit(x)`` for a dense unit that keeps the width."""

    def __init__(self, unit: DenseUnit) -> None:
        super().__init__()
        self.unit = unit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.unit(x)
