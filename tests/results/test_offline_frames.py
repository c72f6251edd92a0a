"""Results are read back from storage in a fresh process, with no Ray running."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rayboost
from rayboost.results import best_trial, epochs_frame, leaderboard, trials_frame

READER = r"""
import json, sys
import rayboost
exp = rayboost.load(sys.argv[1], storage=sys.argv[2])
trials, epochs, summary = exp.trials(), exp.epochs(), exp.summary()
listing = rayboost.experiments(sys.argv[2])
members = exp.members()
print(json.dumps({
    "trials_columns": list(trials.columns), "n_trials": len(trials),
    "epochs_columns": list(epochs.columns), "n_epochs": len(epochs),
    "summary_keys": sorted(summary), "best": summary["best_trial_id"], "test": summary["test"],
    "experiments": listing["name"].tolist(), "experiments_columns": list(listing.columns),
    "members": members.to_dict("records"),
    "ray_imported": "ray" in sys.modules, "torch_imported": "torch" in sys.modules,
}))
"""


@pytest.mark.usefixtures("local_ray")
def test_frames_load_in_a_fresh_process_without_ray(tmp_path):
    rayboost.run(
        overrides=[
            f"storage={tmp_path}",
            "name=offline",
            "data.dataset=digits",
            "search.num_samples=3",
            "search.max_epochs=2",
        ],
        verbose=False,
    )
    out = subprocess.run(
        [sys.executable, "-c", READER, "offline", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert not got["ray_imported"]
    assert got["n_trials"] == 3 and got["n_epochs"] >= 3
    for column in [
        "trial_id",
        "status",
        "param_lr",
        "param_bn",
        "param_conv",
        "param_batch_size",
        "best_val_accuracy",
        "best_val_loss",
        "best_epoch",
        "epochs",
        "asha_stopped",
        "duration_s",
        "n_params",
        "madds",
        "node_id",
    ]:
        assert column in got["trials_columns"], column
    assert got["epochs_columns"] == [
        "trial_id",
        "epoch",
        "train_loss",
        "val_loss",
        "val_accuracy",
        "epoch_time_s",
        "time_total_s",
        "node_id",
    ]
    for key in ("config", "split_sizes", "best_trial_id", "best_val_accuracy", "test"):
        assert key in got["summary_keys"], key
    assert set(got["test"]) == {"accuracy", "log_loss"}
    assert got["experiments"] == ["offline"]
    members = got["members"]
    assert [m["member"] for m in members] == [
        "net_1",
        "net_2",
        "net_3",
        "xgboost",
        "linear",
        "ensemble",
    ]
    assert {
        "kind",
        "trial_id",
        "weight",
        "val_accuracy",
        "val_log_loss",
        "test_accuracy",
        "test_log_loss",
    } <= set(members[0])


def _start(trial_id, t, params):
    return {"event": "start", "trial_id": trial_id, "time": t, "params": params}


def test_trials_frame_deduplicates_restored_epochs_and_marks_statuses():
    events = [
        _start("a", 0.0, {"lr": 0.1}),
        _start("b", 0.0, {"lr": 0.2}),
        {"event": "end", "trial_id": "a", "time": 5.0, "status": "terminated", "finished": True},
        _start("c", 1.0, {"lr": 0.3}),
        {"event": "end", "trial_id": "c", "time": 2.0, "status": "terminated", "finished": False},
        _start("d", 1.0, {"lr": 0.4}),
        {
            "event": "end",
            "trial_id": "d",
            "time": 3.0,
            "status": "error",
            "finished": False,
            "error": "boom",
        },
    ]
    records = [
        {
            "trial_id": "a",
            "epoch": 1,
            "val_accuracy": 0.5,
            "time": 1.0,
            "n_params": 10,
            "madds": 20,
        },
        {"trial_id": "a", "epoch": 2, "val_accuracy": 0.7, "time": 2.0},
        {"trial_id": "a", "epoch": 2, "val_accuracy": 0.8, "time": 3.0},  # repeated after a restore
        {"trial_id": "a", "epoch": 3, "val_accuracy": 0.6, "time": 4.0, "patience_stop": True},
        {"trial_id": "b", "epoch": 1, "val_accuracy": 0.4, "time": 1.5},
        {"trial_id": "c", "epoch": 1, "val_accuracy": 0.1, "time": 1.5},
    ]
    epochs = epochs_frame(records, "accuracy")
    assert len(epochs) == 5
    assert epochs.loc[(epochs.trial_id == "a") & (epochs.epoch == 2), "val_accuracy"].item() == 0.8
    trials = trials_frame(events, epochs, records, "accuracy", "max", "asha").set_index("trial_id")
    assert trials.loc["a", "status"] == "completed" and trials.loc["a", "best_epoch"] == 2
    assert trials.loc["a", "best_val_accuracy"] == 0.8 and trials.loc["a", "patience_stopped"]
    assert trials.loc["b", "status"] == "running"
    assert trials.loc["c", "status"] == "stopped" and trials.loc["c", "asha_stopped"]
    assert trials.loc["d", "status"] == "error" and trials.loc["d", "error"] == "boom"
    assert trials.loc["d", "epochs"] == 0 and trials.loc["a", "epochs"] == 3
    assert trials.loc["a", "duration_s"] == 5.0


def test_ties_on_the_metric_go_to_the_lower_validation_loss():
    """A small validation split is often all right for several epochs and trials: the epoch and
    the trial kept are those with the lowest validation loss among the tied, as the trainer keeps."""
    events = [_start(t, 0.0, {"lr": 0.1}) for t in ("a", "b", "c")]
    records = [
        {"trial_id": "a", "epoch": 1, "val_accuracy": 0.9, "val_loss": 0.5},
        {"trial_id": "a", "epoch": 2, "val_accuracy": 1.0, "val_loss": 0.3},
        {"trial_id": "a", "epoch": 3, "val_accuracy": 1.0, "val_loss": 0.1},
        {"trial_id": "a", "epoch": 4, "val_accuracy": 1.0, "val_loss": 0.2},
        {"trial_id": "b", "epoch": 1, "val_accuracy": 1.0, "val_loss": 0.05},
        {"trial_id": "c", "epoch": 1, "val_accuracy": 0.95, "val_loss": 0.01},
    ]
    epochs = epochs_frame(records, "accuracy")
    trials = trials_frame(events, epochs, records, "accuracy", "max", "asha")
    by_id = trials.set_index("trial_id")
    assert by_id.loc["a", "best_epoch"] == 3 and by_id.loc["a", "best_val_loss"] == 0.1
    assert best_trial(trials, "accuracy", "max")["trial_id"] == "b"
    assert leaderboard(trials, "accuracy", "max")["trial_id"].tolist() == ["b", "a", "c"]


def test_empty_experiment_gives_empty_frames_with_columns():
    epochs = epochs_frame([], "rmse")
    assert (
        list(epochs.columns)[:5] == ["trial_id", "epoch", "train_loss", "val_loss", "val_rmse"]
        and epochs.empty
    )
    trials = trials_frame([], epochs, [], "rmse", "min", "fifo")
    assert trials.empty and "best_val_rmse" in trials.columns


def test_load_unknown_experiment_names_the_storage(tmp_path):
    with pytest.raises(rayboost.ExperimentError, match="no experiment 'nope'"):
        rayboost.load("nope", storage=tmp_path)
    assert rayboost.experiments(tmp_path).empty
