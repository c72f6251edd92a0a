"""The net families: a CNN of separable/standard conv stages, a BN MLP, and wide & deep for
tables with categorical columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from rayboost.models._layers import ConvStage, ConvUnit, DenseUnit, ResidualDense

__all__ = ["CNN", "MLP", "WideDeep", "build_net", "embedding_size", "init_weights"]


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


def embedding_size(levels: int, multiplier: float) -> int:
    """Embedding width of a categorical with ``levels`` codes: fastai's 1.6·n^0.56 rule (capped
    at 64) times ``multiplier``, at least 2."""
    return max(2, round(multiplier * min(64.0, 1.6 * levels**0.56)))


CROSS_PRIME = 1_000_003


class WideDeep(nn.Module):
    """(N, D) encoded table rows -> (N, outputs): the sum of a wide and a deep part, trained
    jointly (Cheng et al., 2016).

    ``layout["categorical"]`` lists the [start, end) spans of the encoder's one-hot blocks (one
    per categorical column: its levels, then "other" and "missing"); a row's code in a block is
    the position of its largest value (the hot column, also once standardized).

    - Wide: a linear layer over every encoded column (numbers, one-hots), plus one learned
      weight vector per hashed cross of the codes of each pair of categorical columns
      (``cross_buckets`` buckets per pair; exact when the pair has fewer combinations).
    - Deep: an embedding per categorical column (:func:`embedding_size`, times
      ``embed_mult``) concatenated with the numeric columns, then ``layers`` BN dense units of
      ``units`` (residual after the first with ``residual``) and a linear head.

    As in the paper the two parts may learn at different rates: the wide part's learning rate
    is ``wide_lr_mult`` × ``lr``.
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_outputs: int,
        p: Mapping[str, Any],
        layout: Mapping[str, Any] | None,
    ) -> None:
        super().__init__()
        width = 1
        for size in input_shape:
            width *= int(size)
        spans = [(int(a), int(b)) for a, b in (layout or {}).get("categorical", [])]
        in_blocks = {i for a, b in spans for i in range(a, b)}
        self.spans = spans
        self.register_buffer(
            "numeric",
            torch.tensor([i for i in range(width) if i not in in_blocks], dtype=torch.long),
        )
        mult = float(p.get("embed_mult", 1.0))
        self.embeddings = nn.ModuleList(
            nn.Embedding(b - a, embedding_size(b - a, mult)) for a, b in spans
        )
        deep_width = len(self.numeric) + sum(e.embedding_dim for e in self.embeddings)
        units: list[nn.Module] = []
        for i in range(int(p["layers"])):
            unit = DenseUnit(
                deep_width, int(p["units"]), p["bn"], p["activation"], float(p["dropout"])
            )
            units.append(ResidualDense(unit) if i > 0 and p.get("residual", False) else unit)
            deep_width = int(p["units"])
        self.body = nn.Sequential(*units)
        self.head = nn.Linear(deep_width, n_outputs)
        self.wide = nn.Linear(width, n_outputs)
        self.pairs = [(i, j) for i in range(len(spans)) for j in range(i + 1, len(spans))]
        self.buckets = int(p.get("cross_buckets", 1024))
        self.cross = nn.Embedding(len(self.pairs) * self.buckets, n_outputs) if self.pairs else None
        if self.cross is not None:
            nn.init.zeros_(self.cross.weight)

    def wide_parameters(self) -> list[nn.Parameter]:
        """The wide part's parameters (they may learn at their own rate: ``wide_lr_mult``)."""
        return [*self.wide.parameters(), *([] if self.cross is None else self.cross.parameters())]

    def _codes(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x[:, a:b].argmax(dim=1) for a, b in self.spans]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        codes = self._codes(x)
        deep = [x.index_select(1, self.numeric)] + [
            emb(code) for emb, code in zip(self.embeddings, codes, strict=True)
        ]
        out = self.head(self.body(torch.cat(deep, dim=1))) + self.wide(x)
        if self.cross is not None:
            for k, (i, j) in enumerate(self.pairs):
                levels_j = self.spans[j][1] - self.spans[j][0]
                combined = codes[i] * levels_j + codes[j]
                if (self.spans[i][1] - self.spans[i][0]) * levels_j > self.buckets:
                    combined = (codes[i] * CROSS_PRIME + codes[j]) % self.buckets
                out = out + self.cross(combined + k * self.buckets)
        return out


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
    family: str,
    params: Mapping[str, Any],
    input_shape: tuple[int, ...],
    n_outputs: int,
    layout: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Build and initialise the net of ``family`` ("cnn", "mlp" or "wide_deep"; ``layout``:
    the table encoder's categorical blocks, see :class:`WideDeep`) for these params."""
    model: nn.Module
    if family == "wide_deep":
        model = WideDeep(input_shape, n_outputs, params, layout)
    else:
        model = (CNN if family == "cnn" else MLP)(input_shape, n_outputs, params)
    init_weights(model, params["init"], params["activation"])
    return model
