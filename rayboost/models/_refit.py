"""A net trained again, with the hyperparameters and epochs validation chose, on rows that
include the validation split (train + validation): nothing is held out, nothing is selected."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rayboost.data import TrialData
from rayboost.models._saved import NetModel
from rayboost.models._train import NetTrainer

__all__ = ["refit_net"]


def refit_net(
    family: str,
    params: Mapping[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    task: str,
    n_outputs: int,
    *,
    seed: int,
    epochs: int,
    schedule_epochs: int,
    device: str = "cpu",
    layout: Mapping[str, Any] | None = None,
) -> NetModel | None:
    """``epochs`` epochs over the scaled rows ``X, y`` of a learning-rate schedule that spans
    ``schedule_epochs`` (the trial's budget: the same point of the same schedule the trial's best
    epoch was at); the weights after the last epoch. None when the training loss diverged."""
    rows = np.arange(len(X))
    data = TrialData(X, y, X[:0], y[:0], task, n_outputs, rows, rows[:0], layout=layout)
    trainer = NetTrainer(family, params, data, seed=seed, device=device, epochs=schedule_epochs)
    for _ in range(epochs):
        loss = trainer.train_epoch()
        trainer.epoch += 1
        if not math.isfinite(loss):
            return None
    state = {k: v.detach().cpu() for k, v in trainer.model.state_dict().items()}
    return NetModel(
        family,
        params,
        data.input_shape,
        n_outputs,
        task,
        trainer.y_mean,
        trainer.y_std,
        state,
        layout,
    )
