"""Where an experiment's files live inside its storage folder (plain paths, no I/O policy)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rayboost._errors import ConfigError

__all__ = ["ExperimentPaths", "check_name"]

NAME_MAX_BYTES = 255  # a folder name on common file systems


def check_name(name: object) -> str:
    """``name`` if it is a plain folder name inside the storage folder, else a ConfigError:
    no path separator, not ``.``/``..`` or hidden, no NUL byte, at most 255 bytes (UTF-8)."""
    problem = None
    if not isinstance(name, str) or not name:
        problem = "must be a non-empty string"
    elif "/" in name or "\\" in name:
        problem = "must not contain '/' or '\\' (it names a folder inside the storage folder)"
    elif name.startswith("."):
        problem = "must not start with '.' (no hidden folders, no '.' or '..')"
    elif "\x00" in name or any(ord(c) < 32 for c in name):
        problem = "must not contain NUL or other control characters"
    elif len(name.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
        problem = f"is {len(name.encode('utf-8', 'surrogatepass'))} bytes long; at most {NAME_MAX_BYTES} are allowed"
    if problem:
        shown = repr(name) if len(repr(name)) <= 60 else repr(name[:40]) + "..."
        raise ConfigError(
            f"experiment name {shown} {problem}; choose a plain folder name such as digits-run1"
        )
    return name


@dataclass(frozen=True)
class ExperimentPaths:
    root: Path

    @classmethod
    def of(cls, storage: Path, name: str) -> ExperimentPaths:
        return cls(Path(storage).expanduser().resolve() / check_name(name))

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def meta(self) -> Path:  # experiment.json: status, dataset, task, metric, times
        return self.root / "experiment.json"

    @property
    def config(self) -> Path:  # the resolved config, YAML
        return self.root / "config.yaml"

    @property
    def split(self) -> Path:  # row indices of train/val/test and the data fingerprint
        return self.root / "split.json"

    @property
    def scaler(self) -> Path:  # feature scaling fit on the train rows
        return self.root / "scaler.json"

    @property
    def encoder(self) -> Path:  # a mixed-type table's column typing and encoding (train rows)
        return self.root / "encoder.json"

    @property
    def trial_events(self) -> Path:  # one JSON line per trial start/end
        return self.root / "records" / "trials.jsonl"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def tune_dir(self) -> Path:  # Ray Tune's own experiment folder
        return self.root / "tune"

    def trial_dir(self, trial_id: str) -> Path:  # best-epoch model, validation predictions
        return self.root / "trials" / trial_id

    def trial_epochs(self, trial_id: str) -> Path:  # one JSON line per epoch, written by the trial
        return self.trial_dir(trial_id) / "epochs.jsonl"

    def trial_state(self, trial_id: str) -> Path:  # the checkpoint between epochs (while it runs)
        return self.trial_dir(trial_id) / "state.pt"

    def epoch_files(self) -> list[Path]:
        return sorted((self.root / "trials").glob("*/epochs.jsonl"))

    def trial_model(self, trial_id: str) -> Path:  # best-epoch state dict (load with weights_only)
        return self.trial_dir(trial_id) / "model.pt"

    def trial_val_pred(self, trial_id: str) -> Path:  # best-epoch validation predictions
        return self.trial_dir(trial_id) / "val_pred.npy"

    @property
    def ensemble(self) -> Path:  # the fitted ensemble: members, weights, members table
        return self.root / "ensemble" / "ensemble.json"

    @property
    def ensemble_history(self) -> Path:  # earlier fits, kept when an ensemble is re-weighted
        return self.root / "ensemble" / "history"

    @property
    def xgboost_trials(self) -> Path:  # one record per XGBoost configuration tried
        return self.root / "records" / "xgboost_trials.json"

    def member_dir(self, member: str) -> Path:  # one member's model files and val predictions
        return self.root / "ensemble" / "members" / member
