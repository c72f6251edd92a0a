"""Pure functions from an experiment's records to pandas DataFrames (no I/O, no Ray).

trials() columns
  trial_id          Ray Tune's trial id
  status            running | completed (ran its epochs or stopped by patience) | stopped
                    (stopped by the scheduler or the time budget) | error | abandoned (started
                    just before the driver died, after Tune last saved its state: the resumed
                    search ran that slot as a new trial; kept for the record, never selected)
  param_<name>      every hyperparameter of the trial
  best_val_<m>      best validation metric over its epochs (m = accuracy, or rmse for regression)
  best_val_loss     validation loss at that epoch (breaks ties of best_val_<m>)
  best_epoch        the epoch of best_val_<m>, ties: the lowest validation loss (its weights
                    are the ones kept)
  epochs            epochs run
  asha_stopped      True when ASHA stopped it before its last epoch
  budget_stopped    True when the time budget ended the search while it ran
  patience_stopped  True when its own early stopping (patience) ended it
  duration_s        wall time from start to end (to now-ish for running trials: last report)
  n_params, madds   parameters and multiply-adds (one sample) of its net
  node_id           the Ray node of its last epoch
  error             last line of the error, for failed trials

epochs() columns
  trial_id, epoch, train_loss, val_loss, val_<m>, epoch_time_s, time_total_s, node_id
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "best_trial",
    "epochs_frame",
    "rank_trials",
    "trial_columns",
    "trial_params",
    "trials_frame",
]

EPOCH_COLUMNS = [
    "trial_id",
    "epoch",
    "train_loss",
    "val_loss",
    "{val}",
    "epoch_time_s",
    "time_total_s",
    "node_id",
]


def epochs_frame(records: list[dict[str, Any]], metric: str) -> pd.DataFrame:
    """One row per (trial, epoch); repeated reports after a restore keep the last."""
    columns = [c.format(val=f"val_{metric}") for c in EPOCH_COLUMNS]
    if not records:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame.from_records(records)
    for column in columns:
        if column not in frame:
            frame[column] = np.nan
    frame = frame.drop_duplicates(["trial_id", "epoch"], keep="last")
    frame["epoch"] = frame["epoch"].astype(int)
    return frame[columns].sort_values(["trial_id", "epoch"]).reset_index(drop=True)


def trial_columns(metric: str, param_names: list[str]) -> list[str]:
    return [
        "trial_id",
        "status",
        *[f"param_{p}" for p in param_names],
        f"best_val_{metric}",
        "best_val_loss",
        "best_epoch",
        "epochs",
        "asha_stopped",
        "budget_stopped",
        "patience_stopped",
        "duration_s",
        "n_params",
        "madds",
        "node_id",
        "error",
    ]


def trials_frame(
    events: list[dict[str, Any]],
    epochs: pd.DataFrame,
    epoch_records: list[dict[str, Any]],
    metric: str,
    mode: str,
    scheduler: str,
    known: set[str] | None = None,
) -> pd.DataFrame:
    """One row per trial, from start/end events and the deduplicated epochs."""
    trials: dict[str, dict[str, Any]] = {}
    for event in events:
        row = trials.setdefault(
            event["trial_id"], {"trial_id": event["trial_id"], "params": {}, "start": event["time"]}
        )
        if event["event"] == "start":
            row["params"] = row["params"] or event.get("params", {})
            row["status"], row["end"], row["finished"], row["error"] = "running", None, False, None
        else:
            row.update(
                status=event["status"], end=event["time"], finished=event.get("finished", False)
            )
            row["error"] = event.get("error") or None
            row["budget"] = event.get("stopped_by") == "time_budget"
    param_names = sorted({name for row in trials.values() for name in row["params"]})
    columns = trial_columns(metric, param_names)
    if not trials:
        return pd.DataFrame(columns=columns)
    last_by_trial = {r["trial_id"]: r for r in epoch_records}  # raw: n_params, madds, flags
    val = f"val_{metric}"
    rows = []
    for trial_id, info in trials.items():
        mine = epochs[epochs["trial_id"] == trial_id]
        last = last_by_trial.get(trial_id, {})
        status = info["status"]
        if status == "terminated":
            status = "completed" if info["finished"] else "stopped"
        if known is not None and trial_id not in known:
            status = "abandoned"
        row: dict[str, Any] = {"trial_id": trial_id, "status": status}
        row.update({f"param_{p}": info["params"].get(p) for p in param_names})
        if len(mine) and mine[val].notna().any():
            best = _best_epoch(mine, val, mode)
            row[f"best_val_{metric}"] = float(best[val])
            row["best_val_loss"] = float(best["val_loss"])
            row["best_epoch"] = int(best["epoch"])
        else:
            row[f"best_val_{metric}"], row["best_val_loss"], row["best_epoch"] = (
                np.nan,
                np.nan,
                pd.NA,
            )
        row["epochs"] = int(mine["epoch"].max()) if len(mine) else 0
        row["patience_stopped"] = bool(last.get("patience_stop", False)) and status == "completed"
        row["budget_stopped"] = status == "stopped" and bool(info.get("budget"))
        row["asha_stopped"] = (
            status == "stopped" and scheduler == "asha" and not row["budget_stopped"]
        )
        end = info.get("end") or last.get("time") or info["start"]
        row["duration_s"] = float(end - info["start"])
        row["n_params"] = last.get("n_params")
        row["madds"] = last.get("madds")
        row["node_id"] = last.get("node_id")
        row["error"] = info.get("error")
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    frame["best_epoch"] = frame["best_epoch"].astype("Int64")
    return frame.sort_values("trial_id").reset_index(drop=True)


def _best_epoch(epochs: pd.DataFrame, val: str, mode: str) -> pd.Series:
    """A trial's best epoch as its trainer keeps it: the best ``val``, ties: the lowest
    validation loss, then the earliest."""
    scored = epochs[epochs[val].notna()]
    scored = scored.assign(_loss=scored["val_loss"].astype(float).fillna(np.inf))
    return scored.sort_values(
        [val, "_loss", "epoch"], ascending=[mode == "min", True, True], kind="stable"
    ).iloc[0]


def rank_trials(trials: pd.DataFrame, metric: str, mode: str) -> pd.DataFrame:
    """Scored, non-abandoned trials, best first: by validation metric at the best epoch, ties
    (common when a small validation split is all right) by the validation loss there, then by
    fewer epochs."""
    scored = trials[trials[f"best_val_{metric}"].notna() & (trials["status"] != "abandoned")]
    loss = (
        scored["best_val_loss"].astype(float).fillna(np.inf)
        if "best_val_loss" in scored
        else np.inf
    )
    keys, ascending = [f"best_val_{metric}", "_loss", "best_epoch"], [mode == "min", True, True]
    return (
        scored.assign(_loss=loss)
        .sort_values(keys, ascending=ascending, kind="stable")
        .drop(columns="_loss")
    )


def best_trial(trials: pd.DataFrame, metric: str, mode: str) -> pd.Series | None:
    """The trial with the best validation metric at its best epoch (ties: lower validation loss,
    then fewer epochs)."""
    ordered = rank_trials(trials, metric, mode)
    return None if ordered.empty else ordered.iloc[0]


def trial_params(row: pd.Series) -> dict[str, Any]:
    """A trial's hyperparameters from its ``trials()`` row, as plain Python values."""
    return {
        column[len("param_") :]: value.item() if isinstance(value, np.generic) else value
        for column, value in row.items()
        if column.startswith("param_") and not (isinstance(value, float) and np.isnan(value))
    }
