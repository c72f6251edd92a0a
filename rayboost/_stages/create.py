"""Create an experiment, or open one to resume: the name's checks, the folder built in one step."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from rayboost import __version__
from rayboost._errors import ConfigError, DataError, ExperimentError
from rayboost._io import read_json, write_folder_atomic, write_json_atomic, write_text_atomic
from rayboost._layout import ExperimentPaths
from rayboost._meta import STAGES, ExperimentMeta, now
from rayboost._trust import make_private
from rayboost.config import Config, config_from_dict, config_to_dict, read_stored_config
from rayboost.data import Dataset, Scaler, Split
from rayboost.models import metric_name

__all__ = ["RESUMABLE_KEYS", "check_open", "check_resumable", "open_experiment"]

RESUMABLE_KEYS = (
    "search.num_samples",
    "search.time_budget_s",
    "search.checkpoint_every_s",
    "resources",
    "ray",
    "ensemble",
)
"""Keys a resumed experiment may change; any other difference is refused."""


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and prefix.count(".") < 1 and key not in ("space", "grid"):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def check_resumable(old: Config, new: Config, name: str) -> None:
    before, after = _flat(config_to_dict(old)), _flat(config_to_dict(new))
    for key in sorted(set(before) | set(after)):
        # the experiment was found by its name in its storage: how the folder was spelt (relative,
        # ~, unset) does not change what it holds
        if any(key == k or key.startswith(k + ".") for k in RESUMABLE_KEYS) or key in (
            "name",
            "storage",
        ):
            continue
        if before.get(key) != after.get(key):
            raise ConfigError(
                f"{key}: experiment {name!r} ran with {before.get(key)!r}, not {after.get(key)!r}; "
                "resume with the same value or choose a new name with --set name=..."
            )
    if (
        old.search.num_samples is not None
        and (new.search.num_samples or 0) < old.search.num_samples
    ):
        raise ConfigError(
            f"search.num_samples: {name!r} already planned {old.search.num_samples} trials; "
            "a resume may raise the budget, not lower it"
        )


def check_open(
    paths: ExperimentPaths, cfg: Config, split: Split, resume: bool, stages: tuple[str, ...]
) -> None:
    """The name is free, or (``resume``) holds this experiment with the same data and settings."""
    name, storage = paths.name, paths.root.parent
    exists = paths.meta.exists()
    if exists and not resume:
        raise ExperimentError(
            f"experiment {name!r} already exists in {storage}; resume it with `rayboost resume {name}` "
            "or choose another name with --set name=..."
        )
    if exists:
        check_resumable(config_from_dict(read_stored_config(paths.config)), cfg, name)
        if Split.load(paths.split).fingerprint != split.fingerprint:
            raise DataError(
                f"the data of {name!r} changed since it ran; restore the original data or choose a new name"
            )
    elif paths.root.exists():
        raise ExperimentError(
            f"{paths.root} exists but is not an experiment; choose another name with --set name=..."
        )
    elif stages == ("ensemble",):
        raise ExperimentError(f"experiment {name!r} does not exist yet; run its tune stage first")


def open_experiment(
    paths: ExperimentPaths, cfg: Config, dataset: Dataset, split: Split, family: str, verbose: bool
) -> tuple[ExperimentMeta, Scaler]:
    """The experiment's record and train-row scaling: read back when it exists (a raised
    ``search.num_samples`` reopens its stages), else created whole in one rename. Its status
    is then ``running`` and config.yaml the current config."""
    config_text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    created = not paths.meta.exists()
    if not created:
        meta = ExperimentMeta.read(paths)
        scaler = Scaler.from_dict(read_json(paths.scaler))
        tuned = meta.tuned_samples  # None: it ran as many trials as its time budget allowed
        if cfg.search.num_samples is not None and (tuned is None or cfg.search.num_samples > tuned):
            # a raised budget reopens tuning, then the ensemble
            meta = dataclasses.replace(meta, stages={s: False for s in STAGES})
        if verbose:
            done = [s for s, ok in meta.stages.items() if ok]
            print(
                f"rayboost: resuming {paths.name} (stages done: {', '.join(done) or 'none'})",
                flush=True,
            )
    else:
        scaler = Scaler.fit(dataset.X[split.train])
        metric = metric_name(dataset.task)
        meta = ExperimentMeta(
            name=paths.name,
            status="running",
            created_at=now(),
            rayboost_version=__version__,
            dataset=dataset.name,
            task=dataset.task,
            family=family,
            metric=metric,
            mode="max" if metric == "accuracy" else "min",
            classes=dataset.classes,
            label=dataset.label,
            input_shape=list(dataset.input_shape),
            feature_names=dataset.feature_names,
        )

        def create(folder: Path) -> None:  # built whole, then renamed into place
            make_private(folder)
            here = ExperimentPaths(folder)
            meta.write(here)
            split.save(here.split)
            write_json_atomic(here.scaler, scaler.to_dict())
            if dataset.encoder is not None:
                write_json_atomic(here.encoder, dataset.encoder.to_dict())
            write_text_atomic(here.config, config_text)

        write_folder_atomic(paths.root, create)
    if not created:  # the current config (a resume may change some keys); a new folder has it
        write_text_atomic(paths.config, config_text)
    return meta.update(paths, status="running", error=None), scaler
