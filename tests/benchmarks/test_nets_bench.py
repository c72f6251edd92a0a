"""The nets entry's own parts: the chance threshold, the trials-learning fraction, and the plain
textbook trainer on digits with a tiny budget (no Ray, no rayboost pipeline). Under 30 s."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.nets import (  # noqa: E402
    chance_threshold,
    first_rung,
    learning_fraction,
    random_shift,
    train_plain,
)


def test_chance_threshold_is_majority_share_plus_three_standard_errors():
    # 100 labels, majority class 40 of them: p = 0.4, se = sqrt(0.4 * 0.6 / 100)
    labels = [0] * 40 + [1] * 35 + [2] * 25
    assert chance_threshold(labels) == pytest.approx(0.4 + 3 * math.sqrt(0.24 / 100))
    # the order of the labels and which class is the majority do not matter
    assert chance_threshold(np.array([2] * 40 + [0] * 35 + [1] * 25)) == pytest.approx(
        chance_threshold(labels)
    )
    # ten balanced classes, 360 rows: 0.1 + 3 * sqrt(0.09 / 360) = 0.1474
    assert chance_threshold(np.repeat(np.arange(10), 36)) == pytest.approx(0.1474, abs=1e-4)
    assert chance_threshold([1, 1, 1, 1]) == pytest.approx(1.0)  # one class: nothing beats it


def test_learning_fraction_looks_only_up_to_the_first_rung():
    epochs = pd.DataFrame(
        {
            "trial_id": ["a", "a", "b", "b", "c"],
            "epoch": [1, 2, 1, 2, 1],
            "val_accuracy": [0.5, 0.9, 0.1, 0.95, np.nan],
        }
    )
    # "d" has no epochs: it counts as not learning
    assert learning_fraction(epochs, ["a", "b", "c", "d"], 1, 0.2) == pytest.approx(0.25)
    assert learning_fraction(epochs, ["a", "b", "c", "d"], 2, 0.2) == pytest.approx(0.5)
    assert learning_fraction(epochs, [], 1, 0.2) is None
    assert first_rung({"asha_rungs": [3, 9]}) == 3
    assert first_rung({"asha_rungs": []}) == 1 and first_rung({}) == 1


def test_random_shift_keeps_shape_and_moves_pixels():
    import torch

    x = torch.zeros(8, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    rows, cols = (out[:, 0] == 1.0).nonzero()[:, 1:].T
    assert len(rows) == 8 and rows.sub(4).abs().max() <= 1 and cols.sub(4).abs().max() <= 1
    assert (rows != 4).any() or (cols != 4).any()


def test_plain_trainer_plans_its_epochs_from_its_budget_and_learns_digits():
    from rayboost.config import DataConfig
    from rayboost.data import load_dataset, split_dataset

    ds = load_dataset(DataConfig(dataset="digits"))
    split = split_dataset(ds, 0, 0.2, 0.2)
    data = (ds.X[split.train], ds.y[split.train], ds.X[split.test], ds.y[split.test], ds.n_outputs)
    budget = 1.0
    res = train_plain(*data, budget, seed=0)
    # as many epochs as the first one says fit in the budget (at least 2); nothing timed here
    assert res["epochs"] >= 2 and res["epochs"] == max(2, math.floor(budget / res["first_epoch_s"]))
    assert res["budget_s"] == budget
    # the recipe itself learns: a fixed number of epochs, whatever the machine's load
    res = train_plain(*data, budget, seed=0, epochs=8)
    assert res["epochs"] == 8 and res["test_accuracy"] > 0.9, res
