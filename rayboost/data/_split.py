"""Seeded train/validation/test split, recorded so anyone can prove which rows were test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from rayboost._errors import DataError
from rayboost._io import write_text_atomic
from rayboost.data._load import Dataset

__all__ = ["Split", "split_dataset"]


@dataclass
class Split:
    train: np.ndarray  # row indices into the dataset
    val: np.ndarray
    test: np.ndarray
    seed: int
    stratified: bool
    fingerprint: str

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}

    def save(self, path: Path) -> None:
        record = {
            "seed": self.seed,
            "stratified": self.stratified,
            "fingerprint": self.fingerprint,
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test": self.test.tolist(),
        }
        write_text_atomic(path, json.dumps(record))

    @classmethod
    def load(cls, path: Path) -> Split:
        record = json.loads(path.read_text())
        return cls(
            train=np.asarray(record["train"], dtype=np.int64),
            val=np.asarray(record["val"], dtype=np.int64),
            test=np.asarray(record["test"], dtype=np.int64),
            seed=int(record["seed"]),
            stratified=bool(record["stratified"]),
            fingerprint=str(record["fingerprint"]),
        )


def split_dataset(
    dataset: Dataset, seed: int, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> Split:
    """Split rows into train/val/test, stratified by class for classification."""
    rows = np.arange(len(dataset.y))
    stratified = dataset.task == "classification"
    if stratified:
        counts = np.bincount(dataset.y)
        if counts.min() < 3:
            rare = (
                dataset.classes[int(np.argmin(counts))]
                if dataset.classes
                else int(np.argmin(counts))
            )
            raise DataError(
                f"class {rare!r} has {counts.min()} rows; each class needs at least 3 to appear in "
                "train, validation and test; add rows or drop that class"
            )
    strat = dataset.y if stratified else None
    try:
        rest, test = train_test_split(
            rows, test_size=test_fraction, random_state=seed, stratify=strat
        )
        strat_rest = dataset.y[rest] if stratified else None
        train, val = train_test_split(
            rest,
            test_size=val_fraction / (1.0 - test_fraction),
            random_state=seed + 1,
            stratify=strat_rest,
        )
    except ValueError as exc:
        raise DataError(
            f"cannot split {dataset.name}: {exc}; add rows or change data.val_fraction"
        ) from None
    return Split(
        np.sort(train), np.sort(val), np.sort(test), seed, stratified, dataset.fingerprint()
    )
