"""The Tune trial: build a net, train it epoch by epoch, checkpoint and report between epochs.

A trial keeps its own checkpoint and epoch records in the experiment folder (shared storage on a
multi-node cluster): after an epoch it first appends the epoch's record, then replaces its
checkpoint when ``checkpoint_every_s`` has passed since the last one, then reports to Tune when
the report can matter (see :func:`train_trial`). The best epoch's weights and validation
predictions are written with each checkpoint, before each report and at the end, so a trial
that finishes or that the scheduler stops leaves the weights its records call best.

A trial that Tune restarts (after its node died, or when a stopped experiment is resumed)
continues from that checkpoint and writes the checkpoint's best weights again: it repeats at
most ``checkpoint_every_s`` of training, and readers keep the last record per trial and epoch,
so no epoch is lost or counted twice.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch
from ray import tune

from rayboost._io import append_jsonl
from rayboost._layout import ExperimentPaths
from rayboost.data import TrialData
from rayboost.models import NetTrainer

__all__ = ["train_trial"]


def trial_seed(seed: int, trial_id: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(trial_id.encode())) % 2**31


def _save_atomic(obj: Any, path: Path, saver: Any = torch.save) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        saver(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_npy(array: np.ndarray, path: str) -> None:
    with open(path, "wb") as handle:
        np.save(handle, array)


def _save_best(trainer: NetTrainer, paths: ExperimentPaths, trial_id: str) -> None:
    _save_atomic(trainer.best["state"], paths.trial_model(trial_id))
    _save_atomic(trainer.best["val_pred"], paths.trial_val_pred(trial_id), _save_npy)


WORST = {"classification": 0.0, "regression": 1e30}  # no finite score yet (a diverged first epoch)


def _objective(trainer: NetTrainer) -> float:
    best = trainer.best["metric"]
    return float(best) if best is not None else WORST[trainer.task]


def train_trial(
    config: dict[str, Any],
    data: TrialData | ray.ObjectRef,
    family: str,
    seed: int,
    max_epochs: int,
    cpus: float,
    root: str,
    checkpoint_every_s: float = 0.0,
    report_epochs: tuple[int, ...] = (),
    report_every_s: float = 0.0,
) -> None:
    """Run one trial. ``data`` holds train and validation rows only: trials never see test rows.

    ``data`` may be an object-store reference, so that the members' Ray tasks share one copy;
    ``root`` is the experiment folder.

    Every epoch is recorded; Tune hears of an epoch (a report blocks the trial for a round trip
    to the driver, 2-4 ms) when it ends the trial, is one of ``report_epochs`` (ASHA's rungs),
    or ``report_every_s`` has passed since the last report (0: every epoch). The scheduler only
    acts at rungs and at the end, so its decisions are those of a report every epoch.
    """
    if isinstance(data, ray.ObjectRef):
        data = ray.get(data)
    torch.set_num_threads(max(1, int(cpus)))
    trial_id = tune.get_context().get_trial_id()
    paths = ExperimentPaths(Path(root))
    paths.trial_dir(trial_id).mkdir(parents=True, exist_ok=True)
    use_cuda = torch.cuda.is_available() and bool(ray.get_gpu_ids())
    epochs = min(
        int(config["epochs"]), max_epochs
    )  # the schedule spans these, whatever stops the trial
    device = "cuda" if use_cuda else "cpu"
    trainer = NetTrainer(
        family, config, data, seed=trial_seed(seed, trial_id), device=device, epochs=epochs
    )
    state_file = paths.trial_state(trial_id)
    if state_file.exists():  # restarted after a failure, or a resumed experiment
        state = torch.load(state_file, weights_only=True)
        if state.get("params") == dict(config) and state.get("finished"):
            # it had finished after Tune last saved its state: report its end again, train nothing
            tune.report(json.loads(state["record"]))
            return
        if state.get("params") == dict(config):
            trainer.load_state_dict(state)
            if (
                trainer.best["state"] is not None
            ):  # epochs after the checkpoint may have left a later best
                _save_best(trainer, paths, trial_id)
        else:  # left by another trial of this id with other hyperparameters: start afresh
            for stale in paths.trial_dir(trial_id).iterdir():
                stale.unlink()
    node_id = ray.get_runtime_context().get_node_id()
    last_checkpoint = last_report = time.monotonic()
    rungs = frozenset(report_epochs)
    unsaved_best = False
    while trainer.epoch < epochs:
        record = trainer.run_epoch()
        finished = record["patience_stop"] or record["diverged"] or trainer.epoch >= epochs
        record.update(
            objective=_objective(
                trainer
            ),  # best validation metric so far: what ASHA and the searcher see
            trial_id=trial_id,
            time=time.time(),
            n_params=trainer.n_params,
            madds=trainer.madds,
            node_id=node_id,
            final=finished,  # the trial ends itself; anything else stopped it early
        )
        unsaved_best = unsaved_best or record["best_epoch"] == trainer.epoch
        append_jsonl(paths.trial_epochs(trial_id), record)
        checkpoint = not finished and time.monotonic() - last_checkpoint >= checkpoint_every_s
        report = (
            finished or trainer.epoch in rungs or time.monotonic() - last_report >= report_every_s
        )
        if unsaved_best and (finished or checkpoint or report):
            # the best epoch's weights and predictions, written before anything that may end the
            # trial (a report: the scheduler may stop it) and with every checkpoint
            _save_best(trainer, paths, trial_id)
            unsaved_best = False
        if finished:  # a marker, so a restore that thinks it still runs does not train it again
            marker = {
                "params": dict(config),
                "finished": True,
                "record": json.dumps(record, default=str),
            }
            _save_atomic(marker, state_file)
        elif checkpoint:
            _save_atomic({**trainer.state_dict(), "params": dict(config)}, state_file)
            last_checkpoint = time.monotonic()
        if report:
            tune.report(record)
            last_report = time.monotonic()
        if finished:
            return
