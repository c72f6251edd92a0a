"""Feature scaling fit on the train split only, and the arrays a trial receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # a trial process unpickles TrialData without pandas or scikit-learn
    from rayboost.data._load import Dataset
    from rayboost.data._split import Split

__all__ = ["Scaler", "TrialData", "make_trial_data"]


@dataclass
class Scaler:
    """Standardize features: per column for tables, per channel for images."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Scaler:
        axes = (0, 2, 3) if X.ndim == 4 else (0,)
        mean = X.mean(axis=axes, keepdims=True)[0]
        std = X.std(axis=axes, keepdims=True)[0]
        std = np.where(std < 1e-8, 1.0, std)
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "mean": self.mean.ravel().tolist(),
            "std": self.std.ravel().tolist(),
            "shape": list(self.mean.shape),
        }

    @classmethod
    def from_dict(cls, record: dict) -> Scaler:
        shape = tuple(record["shape"])
        return cls(
            np.asarray(record["mean"], dtype=np.float32).reshape(shape),
            np.asarray(record["std"], dtype=np.float32).reshape(shape),
        )


@dataclass
class TrialData:
    """Exactly what a tuning trial gets: scaled train and validation rows, never test rows."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: str
    n_outputs: int
    train_rows: np.ndarray
    val_rows: np.ndarray
    layout: dict | None = None  # a mixed-type table's categorical blocks (wide & deep nets)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.X_train.shape[1:])


def make_trial_data(dataset: Dataset, split: Split, scaler: Scaler) -> TrialData:
    return TrialData(
        X_train=scaler.transform(dataset.X[split.train]),
        y_train=dataset.y[split.train],
        X_val=scaler.transform(dataset.X[split.val]),
        y_val=dataset.y[split.val],
        task=dataset.task,
        n_outputs=dataset.n_outputs,
        train_rows=split.train,
        val_rows=split.val,
        layout=None if dataset.encoder is None else dataset.encoder.layout(),
    )
