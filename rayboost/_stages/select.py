"""Select the best trial on validation, then score it on the test split: once, at the end."""

from __future__ import annotations

from typing import Any

from rayboost._members import net_model
from rayboost._meta import now
from rayboost.config import Config, config_to_dict
from rayboost.data import Dataset, Scaler, Split
from rayboost.ensemble import score
from rayboost.results import Experiment, best_trial, trial_params

__all__ = ["select_and_test"]


def select_and_test(
    experiment: Experiment, cfg: Config, dataset: Dataset, split: Split, scaler: Scaler, family: str
) -> dict[str, Any]:
    """The summary's head: config, split, trial counts, and the selected trial with its test score."""
    metric, mode = experiment.metric, experiment.mode
    trials = experiment.trials()
    best = best_trial(trials, metric, mode)
    summary: dict[str, Any] = {
        "name": experiment.name,
        "status": "completed",
        "config": config_to_dict(cfg),
        "dataset": dataset.name,
        "task": dataset.task,
        "family": family,
        "metric": metric,
        "mode": mode,
        "split_sizes": split.sizes(),
        "split_fingerprint": split.fingerprint,
        "n_trials": int((trials["status"] != "abandoned").sum()),
        "n_errors": int((trials["status"] == "error").sum()),
        "best_trial_id": None,
        "best_params": None,
        f"best_val_{metric}": None,
        "best_epoch": None,
        "test": None,
    }
    if best is None or not experiment.paths.trial_model(best["trial_id"]).exists():
        return summary
    model = net_model(experiment, trials, best["trial_id"], dataset, split, family)
    pred = model.predict_output(scaler.transform(dataset.X[split.test]))
    summary.update(
        best_trial_id=best["trial_id"],
        best_params=trial_params(best),
        best_epoch=int(best["best_epoch"]),
        test=score(pred, dataset.y[split.test], task=dataset.task),
        test_scored_at=now(),
    )
    summary[f"best_val_{metric}"] = float(best[f"best_val_{metric}"])
    return summary
