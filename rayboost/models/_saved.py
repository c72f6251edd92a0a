"""A net as an ensemble member: trained (``fit``, ``refit``) with the trainer the trials use,
saved as JSON + a state dict, loaded with weights_only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rayboost._errors import DataError
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
        state_dict: Mapping[str, torch.Tensor] | None,
        layout: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        best_epoch: int | None = None,
        schedule_epochs: int | None = None,
    ) -> None:
        """``state_dict`` None: a net not trained yet (see :meth:`fit`). ``best_epoch`` and
        ``schedule_epochs`` (the epoch its weights come from, and the epochs its learning-rate
        schedule spans) let :meth:`refit` train the same net again."""
        self.family, self.params, self.task = family, dict(params), task
        self.input_shape, self.n_outputs = tuple(input_shape), int(n_outputs)
        self.y_mean, self.y_std = float(y_mean), float(y_std)
        self.layout = None if layout is None else dict(layout)
        self.seed, self.best_epoch, self.schedule_epochs = int(seed), best_epoch, schedule_epochs
        self.model = build_net(family, self.params, self.input_shape, self.n_outputs, self.layout)
        if state_dict is not None:
            self.model.load_state_dict(state_dict)
        self.model.eval()

    @classmethod
    def untrained(
        cls,
        family: str,
        params: Mapping[str, Any],
        input_shape: tuple[int, ...],
        n_outputs: int,
        task: str,
        layout: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> NetModel:
        return cls(family, params, input_shape, n_outputs, task, 0.0, 1.0, None, layout, seed=seed)

    def fit(self, X_train: Any, y_train: Any, X_val: Any, y_val: Any) -> NetModel:
        """Train as a trial does: up to ``params["epochs"]`` epochs, stopping after
        ``params["patience"]`` epochs without a better validation score; keep the best epoch's
        weights."""
        from rayboost.data import TrialData
        from rayboost.models._train import NetTrainer

        X_train, X_val = np.array(X_train, np.float32), np.array(X_val, np.float32)
        data = TrialData(
            X_train,
            np.array(y_train),
            X_val,
            np.array(y_val),
            self.task,
            self.n_outputs,
            np.arange(len(X_train)),
            np.arange(len(X_val)),
            layout=self.layout,
        )
        epochs = int(self.params["epochs"])
        trainer = NetTrainer(self.family, self.params, data, seed=self.seed, epochs=epochs)
        for _ in range(epochs):
            if trainer.run_epoch()["patience_stop"]:
                break
        if trainer.best.get("state") is None:
            raise DataError("the net never scored on validation (its loss diverged)")
        self.model.load_state_dict(trainer.best["state"])
        self.model.eval()
        self.y_mean, self.y_std = trainer.y_mean, trainer.y_std
        self.best_epoch, self.schedule_epochs = int(trainer.best["epoch"]), epochs
        return self

    def refit(self, X: Any, y: Any) -> NetModel:
        """The same net trained again on ``X, y`` up to its best epoch, on the same schedule."""
        from rayboost.models._refit import refit_net

        if self.best_epoch is None or self.schedule_epochs is None:
            raise DataError("this net does not know its best epoch; fit it first")
        model = refit_net(
            self.family,
            self.params,
            np.array(X, np.float32),
            np.array(y),
            self.task,
            self.n_outputs,
            seed=self.seed,
            epochs=self.best_epoch,
            schedule_epochs=self.schedule_epochs,
            layout=self.layout,
        )
        if model is None:
            raise DataError("the net's loss diverged when trained again")
        model.seed, model.best_epoch = self.seed, self.best_epoch
        model.schedule_epochs = self.schedule_epochs
        return model

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (classification only)."""
        from rayboost.models._kinds import proba_of

        return proba_of(self, X)

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
            "seed": self.seed,
            "best_epoch": self.best_epoch,
            "schedule_epochs": self.schedule_epochs,
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
            seed=meta.get("seed", 0),
            best_epoch=meta.get("best_epoch"),
            schedule_epochs=meta.get("schedule_epochs"),
        )
