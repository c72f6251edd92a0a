"""Read an experiment back from its storage folder: no Ray needed, works while it runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from rayboost._env import default_storage
from rayboost._errors import ExperimentError
from rayboost._io import read_json, read_jsonl
from rayboost._layout import ExperimentPaths
from rayboost._meta import ExperimentMeta
from rayboost.config import read_stored_config

if TYPE_CHECKING:
    from rayboost.data._table import TableEncoder
from rayboost.results._frames import best_trial, epochs_frame, trials_frame

__all__ = ["Experiment", "experiments", "load"]

EXPERIMENT_COLUMNS = [
    "name",
    "status",
    "dataset",
    "task",
    "family",
    "metric",
    "n_trials",
    "best_val",
    "test_score",
    "created_at",
    "duration_s",
    "path",
]


class Experiment:
    """One experiment's results as DataFrames. Build with :func:`rayboost.load`."""

    def __init__(self, paths: ExperimentPaths) -> None:
        self.paths = paths
        self.record = ExperimentMeta.read(paths)
        self.meta: dict[str, Any] = self.record.to_dict()

    @property
    def name(self) -> str:
        return self.paths.name

    @property
    def status(self) -> str:
        """``running``, ``completed``, ``partial`` (some stages run), ``failed``,
        ``interrupted`` (stopped by Ctrl-C or SIGTERM), or ``died``: it says running, but its
        driver is gone without a word (SIGKILL, out of memory, a lost node)."""
        return live_status(self.paths, ExperimentMeta.read(self.paths).to_dict())

    @property
    def metric(self) -> str:
        return str(self.meta["metric"])

    @property
    def mode(self) -> str:
        return str(self.meta["mode"])

    def encoder(self) -> TableEncoder | None:
        """A mixed-type table's column typing and encoding (fitted on the train rows), or None."""
        from rayboost.data._table import TableEncoder

        if not self.paths.encoder.exists():
            return None
        return TableEncoder.from_dict(read_json(self.paths.encoder))

    @property
    def config(self) -> dict[str, Any]:
        return read_stored_config(self.paths.config)

    def _epoch_records(self) -> list[dict[str, Any]]:
        return [record for path in self.paths.epoch_files() for record in read_jsonl(path)]

    def epochs(self) -> pd.DataFrame:
        """One row per trial per epoch (deduplicated by trial and epoch)."""
        return epochs_frame(self._epoch_records(), self.metric)

    def trials(self) -> pd.DataFrame:
        """One row per trial; see ``rayboost.results`` for the columns."""
        records = self._epoch_records()
        return trials_frame(
            read_jsonl(self.paths.trial_events),
            epochs_frame(records, self.metric),
            records,
            self.metric,
            self.mode,
            self.config["search"]["scheduler"],
            None if (ids := ExperimentMeta.read(self.paths).tune_trial_ids) is None else set(ids),
        )

    def members(self) -> pd.DataFrame:
        """The ensemble's members plus one ``ensemble`` row.

        Columns: member (net_1.., xgboost, linear, ensemble), kind (net/xgboost/linear/ensemble),
        trial_id (nets), weight, val_<metric> and test_<metric> (accuracy and log_loss for
        classification, rmse for regression).
        """
        from rayboost.ensemble import members_frame

        return members_frame(self.paths)

    def xgboost_trials(self) -> pd.DataFrame:
        """One row per XGBoost configuration its search tried: config (1 is XGBoost's
        defaults), the parameters, best_iteration, n_rounds, deadline_stopped, val_log_loss
        (classification) or val_rmse, fit_s and chosen (the one that became the member).
        Empty before the search has finished or when the experiment has no XGBoost member."""
        if not self.paths.xgboost_trials.exists():
            return pd.DataFrame()
        return pd.DataFrame(read_json(self.paths.xgboost_trials))

    def ensemble(self) -> Any:
        """The fitted ensemble as an estimator: ``predict(X)``, ``predict_proba(X)``."""
        from rayboost.ensemble import EnsembleModel

        return EnsembleModel.load(self.paths)

    def summary(self) -> dict[str, Any]:
        """Config, split sizes, best trial and its test score (once the run has finished)."""
        if self.paths.summary.exists():
            return dict(read_json(self.paths.summary))
        trials = self.trials()
        best = best_trial(trials, self.metric, self.mode)
        split = read_json(self.paths.split)
        return {
            "name": self.name,
            "status": self.status,
            "config": self.config,
            "split_sizes": {k: len(split[k]) for k in ("train", "val", "test")},
            "metric": self.metric,
            "n_trials": len(trials),
            "best_trial_id": None if best is None else best["trial_id"],
            f"best_val_{self.metric}": None
            if best is None
            else float(best[f"best_val_{self.metric}"]),
            "test": None,
        }

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, status={self.status!r}, path={str(self.paths.root)!r})"


def live_status(paths: ExperimentPaths, meta: dict[str, Any]) -> str:
    """The stored status, except that ``running`` with no live driver holding the experiment's
    lock (see :mod:`rayboost._lock`) is ``died``."""
    from rayboost._lock import holder

    status = str(meta.get("status"))
    return "died" if status == "running" and holder(paths.root) is None else status


def _storage(storage: str | Path | None) -> Path:
    path = Path(storage).expanduser() if storage is not None else default_storage()
    if path.exists() and not path.is_dir():
        raise ExperimentError(
            f"storage {path} is a file, not a folder of experiments; pass the folder"
        )
    return path


def load(name: str, storage: str | Path | None = None) -> Experiment:
    """Open experiment ``name`` from ``storage`` (default ``$RAYBOOST_STORAGE`` or ~/rayboost_results)."""
    root = _storage(storage)
    paths = ExperimentPaths.of(root, name)
    if not paths.meta.exists():
        known = experiments(root)["name"].tolist() if root.exists() else []
        hint = f"; experiments there: {', '.join(known[-10:])}" if known else ""
        raise ExperimentError(f"no experiment {name!r} in {root}{hint}")
    return Experiment(paths)


def experiments(storage: str | Path | None = None) -> pd.DataFrame:
    """One row per experiment in ``storage``, newest last."""
    root = _storage(storage)
    rows = []
    for meta_path in sorted(root.glob("*/experiment.json")) if root.exists() else []:
        if meta_path.parent.name.startswith("."):
            continue  # an experiment folder being created
        paths = ExperimentPaths(meta_path.parent)
        try:
            meta = ExperimentMeta.read(paths).to_dict()
        except (OSError, ValueError, TypeError):  # unreadable, or not written by rayboost
            continue
        summary = read_json(paths.summary) if paths.summary.exists() else {}
        rows.append(
            {
                "name": paths.name,
                "status": live_status(paths, meta),
                "dataset": meta.get("dataset"),
                "task": meta.get("task"),
                "family": meta.get("family"),
                "metric": meta.get("metric"),
                "n_trials": summary.get("n_trials"),
                "best_val": summary.get(f"best_val_{meta.get('metric')}"),
                "test_score": (summary.get("test") or {}).get(str(meta.get("metric"))),
                "created_at": meta.get("created_at"),
                "duration_s": summary.get("duration_s"),
                "path": str(paths.root),
            }
        )
    frame = pd.DataFrame(rows, columns=EXPERIMENT_COLUMNS)
    return frame.sort_values("created_at", kind="stable").reset_index(drop=True)
