"""The ensemble stage: members' weights fit on validation, refits on train + validation, one
test pass, saved; and the same again for a finished experiment (re-weighting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rayboost._errors import DataError, ExperimentError
from rayboost._io import full_storage_is_an_error, read_json, write_json_atomic
from rayboost._lock import ExperimentLock
from rayboost._members import load_member, make_refitter
from rayboost.config import Config, config_from_dict
from rayboost.data import Dataset, Scaler, Split, encode_table, load_dataset, make_trial_data
from rayboost.ensemble import Member, Refitter, fit_ensemble, save_ensemble
from rayboost.results import Experiment

__all__ = ["ensemble_stage", "reweight"]


def ensemble_stage(
    experiment: Experiment,
    members: list[Member],
    dataset: Dataset,
    split: Split,
    scaler: Scaler,
    cfg: Config,
    method: str | None = None,
    weights: dict[str, float] | None = None,
    calibrate: bool | None = None,
    refit: Refitter | None = None,
) -> dict[str, Any]:
    """Weights on validation predictions, then (with ``refit``) the members trained again on
    train + validation, then every member and the ensemble scored on test; returns the
    summary's ``ensemble`` part."""
    fit = fit_ensemble(
        members,
        dataset.y[split.val],
        scaler.transform(dataset.X[split.test]),
        dataset.y[split.test],
        task=dataset.task,
        method=method or cfg.ensemble.method,
        weights=weights if weights is not None else cfg.ensemble.weights,
        seed=cfg.seed,
        calibrate=cfg.ensemble.calibrate if calibrate is None else calibrate,
        refit=refit,
    )
    save_ensemble(experiment.paths, members, fit, dataset.task, dataset.classes)
    return fit.summary


def reweight(
    name: str,
    storage: str | Path | None = None,
    method: str | None = None,
    weights: dict[str, float] | None = None,
    calibrate: bool | None = None,
    refit: bool | None = None,
) -> Experiment:
    """Fit an existing experiment's ensemble again with another method or user weights, with or
    without calibrated members, with or without members refit on train + validation rows
    (default: the experiment's config).

    No trial is retrained: members and their validation predictions are read from storage; a
    member that now carries weight and has no refit yet is refit here, in this process. The
    previous ensemble is kept in ``ensemble/history/``.
    """
    from rayboost.results import load

    experiment = load(name, storage)
    if not experiment.paths.ensemble.exists():
        raise ExperimentError(
            f"experiment {name!r} has no ensemble to re-weight (it is still running or had none)"
        )
    cfg = config_from_dict(experiment.config)
    dataset = load_dataset(cfg.data)
    split = Split.load(experiment.paths.split)
    dataset = encode_table(dataset, split.train, cfg.data)
    if dataset.fingerprint() != split.fingerprint:
        raise DataError(
            f"the data at {cfg.data.path or cfg.data.dataset} changed since {name!r} ran "
            f"(fingerprint {dataset.fingerprint()} != {split.fingerprint}); restore the original file"
        )
    again = f"run `rayboost ensemble {name}` again (the ensemble in place is kept until then)"
    with (
        full_storage_is_an_error(experiment.paths.root.parent, again),
        ExperimentLock(experiment.paths.root, verbose=False),  # not while a driver writes it
    ):
        scaler = Scaler.from_dict(read_json(experiment.paths.scaler))
        record = read_json(experiment.paths.ensemble)
        members = [
            load_member(experiment.paths, e["member"], e["kind"], e["trial_id"])
            for e in record["members"]
        ]
        summary = read_json(experiment.paths.summary)
        refitter = None
        if cfg.ensemble.refit if refit is None else refit:
            data = make_trial_data(dataset, split, scaler)
            refitter = make_refitter(
                experiment, cfg, data, len(split.val) / len(split.train), 1, None
            )
        summary["ensemble"] = ensemble_stage(
            experiment, members, dataset, split, scaler, cfg, method, weights, calibrate, refitter
        )
        write_json_atomic(experiment.paths.summary, summary)
    return experiment
