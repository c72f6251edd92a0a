"""The Tune trial: build a net, train it epoch by epoch, report and checkpoint between epochs."""

from __future__ import annotations

import tempfile
import zlib
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from rayboost.data import TrialData
from rayboost.models import NetTrainer

__all__ = ["CHECKPOINT_FILE", "train_trial"]

CHECKPOINT_FILE = "trainer.pt"


def trial_seed(seed: int, trial_id: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(trial_id.encode())) % 2**31


def train_trial(
    config: dict[str, Any],
    data: TrialData | ray.ObjectRef,
    family: str,
    seed: int,
    max_epochs: int,
    cpus: float,
) -> None:
    """Run one trial. ``data`` holds train and validation rows only: trials never see test rows.

    ``data`` may be an object-store reference, so that the members' Ray tasks share one copy.
    """
    if isinstance(data, ray.ObjectRef):
        data = ray.get(data)
    torch.set_num_threads(max(1, int(cpus)))
    context = tune.get_context()
    trial_id = context.get_trial_id()
    use_cuda = torch.cuda.is_available() and bool(ray.get_gpu_ids())
    trainer = NetTrainer(family, config, data, seed=trial_seed(seed, trial_id), device="cuda" if use_cuda else "cpu")
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:  # restored after a failure or a resumed experiment
        with checkpoint.as_directory() as folder:
            trainer.load_state_dict(torch.load(Path(folder) / CHECKPOINT_FILE, weights_only=True))
    node_id = ray.get_runtime_context().get_node_id()
    epochs = min(int(config["epochs"]), max_epochs)
    while trainer.epoch < epochs:
        record = trainer.run_epoch()
        record.update(n_params=trainer.n_params, madds=trainer.madds, node_id=node_id)
        finished = record["patience_stop"] or record["diverged"] or trainer.epoch >= epochs
        record["final"] = finished  # the trial ends itself; anything else stopped it early
        with tempfile.TemporaryDirectory() as folder:
            torch.save(trainer.state_dict(), Path(folder) / CHECKPOINT_FILE)
            tune.report(record, checkpoint=tune.Checkpoint.from_directory(folder))
        if finished:
            return
