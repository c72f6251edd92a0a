"""A trained net as an ensemble member: saved as JSON + a state dict, loaded with weights_only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rayboost._io import write_json_atomic
from rayboost.models._nets import build_net
from rayboost.models._train import predict_output

__all__ = ["NetModel"]


class NetModel:
    """Predicts with a net's best-epoch weights; inputs are scaled features (N, ...)."""

    kind = "net"

    def __init__(
        self,
        family: str,
        params: Mapping[str, Any],
        input_shape: tuple[int, ...],
        n_outputs: int,
        task: str,
        y_mean: float,
        y_std: float,
        state_dict: Mapping[str, torch.Tensor],
        layout: Mapping[str, Any] | None = None,
    ) -> None:
        self.family, self.params, self.task = family, dict(params), task
        self.input_shape, self.n_outputs = tuple(input_shape), int(n_outputs)
        self.y_mean, self.y_std = float(y_mean), float(y_std)
        self.layout = None if layout is None else dict(layout)
        self.model = build_net(family, self.params, self.input_shape, self.n_outputs, self.layout)
        self.model.load_state_dict(state_dict)
        self.model.eval()

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        return predict_output(
            self.model, np.asarray(X, dtype=np.float32), self.task, self.y_mean, self.y_std
        )

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / "model.pt")
        meta = {
            "family": self.family,
            "params": self.params,
            "input_shape": list(self.input_shape),
            "n_outputs": self.n_outputs,
            "task": self.task,
            "y_mean": self.y_mean,
            "y_std": self.y_std,
            "layout": self.layout,
        }
        write_json_atomic(folder / "net.json", meta)

    @classmethod
    def load(cls, folder: Path) -> NetModel:
        meta = json.loads((folder / "net.json").read_text())
        state = torch.load(folder / "model.pt", weights_only=True)
        return cls(
            meta["family"],
            meta["params"],
            tuple(meta["input_shape"]),
            meta["n_outputs"],
            meta["task"],
            meta["y_mean"],
            meta["y_std"],
            state,
            meta.get("layout"),  # absent: saved before wide & deep nets
        )
