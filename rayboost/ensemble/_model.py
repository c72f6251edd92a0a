"""The fitted ensemble: saved in safe formats, loaded as a scikit-learn-style estimator."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rayboost._errors import DataError, ExperimentError
from rayboost._io import read_json, write_folder_atomic, write_json_atomic
from rayboost._layout import ExperimentPaths
from rayboost._meta import ExperimentMeta
from rayboost.data import Scaler
from rayboost.data._table import TableEncoder
from rayboost.ensemble._build import EnsembleFit, Member
from rayboost.ensemble._calibrate import apply_temperature
from rayboost.ensemble._weights import weighted_average
from rayboost.models import MEMBER_KINDS

__all__ = ["REFIT", "EnsembleModel", "members_frame", "save_ensemble", "save_member"]

REFIT = "refit"
"""A member's folder keeps its refit on train + validation rows in this subfolder."""


def save_ensemble(
    paths: ExperimentPaths, members: list[Member], fit: EnsembleFit, task: str, classes: Any
) -> None:
    """Write every member's model and validation predictions, then ensemble.json (atomically).

    An earlier ensemble.json is moved to ``ensemble/history/`` first: nothing is lost.
    """
    previous = (
        {e["member"]: e["trial_id"] for e in read_json(paths.ensemble)["members"]}
        if paths.ensemble.exists()
        else {}
    )
    for member in members:
        folder = paths.member_dir(member.name)
        if (folder / "val_pred.npy").exists() and previous.get(member.name) == member.trial_id:
            continue  # the same model is already there (a re-weighting, or a member saved when fit)
        save_member(folder, member.model, member.val_pred)
    for name, refit in fit.refits.items():  # written whole, then renamed: never half a model
        target = paths.member_dir(name) / REFIT
        if (target / "refit.json").exists() and read_json(target / "refit.json") == refit.record:
            continue  # the refit already saved there, reused
        partial = target.with_name(REFIT + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        refit.model.save(partial)  # type: ignore[attr-defined]
        write_json_atomic(partial / "refit.json", refit.record)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    if paths.ensemble.exists():
        paths.ensemble_history.mkdir(parents=True, exist_ok=True)
        n = len(list(paths.ensemble_history.glob("ensemble-*.json"))) + 1
        shutil.copy2(paths.ensemble, paths.ensemble_history / f"ensemble-{n:03d}.json")
    record = {
        "method": fit.method,
        "task": task,
        "classes": classes,
        "members": [
            {
                "member": m.name,
                "kind": m.kind,
                "trial_id": m.trial_id,
                "weight": float(w),
                "temperature": t,
                "refit": m.name in fit.refits,
                "val_pred_sha256": _digest(m.val_pred),
                **({"refit_record": fit.refits[m.name].record} if m.name in fit.refits else {}),
            }
            for m, w, t in zip(
                members, fit.weights, fit.temperatures or [None] * len(members), strict=True
            )
        ],
        "table": fit.rows,
        "summary": fit.summary,
        "fitted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json_atomic(paths.ensemble, record)


def _check_member_files(paths: ExperimentPaths, entry: dict[str, Any]) -> None:
    """The member's files are the ones ensemble.json was fit with (checked where both sides
    carry a record: experiments saved before these records are taken as they are)."""
    folder = paths.member_dir(entry["member"])
    stale = False
    if "val_pred_sha256" in entry and (folder / MEMBER_RECORD).exists():
        stale = read_json(folder / MEMBER_RECORD).get("val_pred_sha256") != entry["val_pred_sha256"]
    if entry.get("refit") and "refit_record" in entry:
        refit_json = folder / REFIT / "refit.json"
        stale = stale or not refit_json.exists() or read_json(refit_json) != entry["refit_record"]
    if stale:
        raise ExperimentError(
            f"experiment {paths.name!r}: member {entry['member']}'s files are not the ones its ensemble was fit with "
            f"(the ensemble stage stopped while rewriting them); fit it again with `rayboost ensemble {paths.name}`"
        )


def _read(paths: ExperimentPaths) -> dict[str, Any]:
    if not paths.ensemble.exists():
        raise ExperimentError(
            f"experiment {paths.name!r} has no ensemble yet (it is still running, or ran with ensemble.enabled=false)"
        )
    return dict(read_json(paths.ensemble))


MEMBER_RECORD = "member.json"
"""In a member's folder: the digest of its validation predictions, which ensemble.json repeats,
so that a loader can tell member files and weights written by different fits apart."""


def _digest(val_pred: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(val_pred).tobytes()).hexdigest()


def save_member(folder: Path, model: Any, val_pred: np.ndarray) -> None:
    """A member's model files and validation predictions, written as one folder (whole or not
    at all)."""

    def fill(partial: Path) -> None:
        model.save(partial)
        with open(partial / "val_pred.npy", "wb") as handle:
            np.save(handle, val_pred)
        write_json_atomic(partial / MEMBER_RECORD, {"val_pred_sha256": _digest(val_pred)})

    write_folder_atomic(folder, fill)


def members_frame(paths: ExperimentPaths) -> pd.DataFrame:
    """One row per member plus one ``ensemble`` row (see ``Experiment.members``)."""
    return pd.DataFrame(_read(paths)["table"])


class EnsembleModel:
    """Weighted average of the members' (temperature-scaled) outputs, each member's refit on train
    + validation rows where the ensemble was refit. ``X`` is raw features:
    (N, D) for tables, images as (N, C, H, W) or flattened (N, C·H·W), or for a mixed-type
    table a DataFrame with its columns; the training-split encoding and scaling are applied
    here."""

    def __init__(
        self,
        members: list[tuple[str, Any]],
        weights: np.ndarray,
        scaler: Scaler,
        task: str,
        classes: list[Any] | None,
        input_shape: tuple[int, ...],
        temperatures: list[float | None] | None = None,
    ) -> None:
        self.members_ = members
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.temperatures_ = (
            list(temperatures) if temperatures is not None else [None] * len(members)
        )
        self.scaler_ = scaler
        self.task_ = task
        self.classes_ = None if classes is None else np.asarray(classes)
        self.input_shape_ = tuple(input_shape)
        self.encoder_: TableEncoder | None = None  # a mixed-type table's (set by load)

    @classmethod
    def load(cls, paths: ExperimentPaths) -> EnsembleModel:
        record = _read(paths)
        input_shape = tuple(ExperimentMeta.read(paths).input_shape)
        used = [
            e for e in record["members"] if e["weight"] > 0
        ]  # zero-weight members are never loaded nor run
        # a member refit on train + validation predicts with that version
        for entry in used:
            _check_member_files(paths, entry)
        folders = [paths.member_dir(e["member"]) / (REFIT if e.get("refit") else "") for e in used]
        members = [
            (e["member"], MEMBER_KINDS[e["kind"]].load(f))
            for e, f in zip(used, folders, strict=True)
        ]
        weights = np.array([e["weight"] for e in used])
        temperatures = [e.get("temperature") for e in used]  # absent: saved before calibration
        scaler = Scaler.from_dict(read_json(paths.scaler))
        model = cls(
            members, weights, scaler, record["task"], record["classes"], input_shape, temperatures
        )
        if paths.encoder.exists():
            model.encoder_ = TableEncoder.from_dict(read_json(paths.encoder))
        return model

    def _prepare(self, X: Any) -> np.ndarray:
        if self.encoder_ is not None and isinstance(X, pd.DataFrame):
            X = self.encoder_.transform(X, "rows to predict")  # typed as the train rows were
        X = np.asarray(X, dtype=np.float32)
        n_features = int(np.prod(self.input_shape_))
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1:] != self.input_shape_:
            if X.reshape(len(X), -1).shape[1] != n_features:
                raise DataError(
                    f"expected rows of shape {self.input_shape_} ({n_features} features), got {X.shape[1:]}"
                )
            X = X.reshape(len(X), *self.input_shape_)
        if not np.all(np.isfinite(X)):
            raise DataError("X has missing or infinite values; fill or drop them before predicting")
        return self.scaler_.transform(X)

    def predict_output(self, X: Any) -> np.ndarray:
        """Class probabilities (N, C) or regression values (N, 1)."""
        Xs = self._prepare(X)
        outputs = [model.predict_output(Xs) for _, model in self.members_]
        P = np.stack(
            [apply_temperature(p, t) for p, t in zip(outputs, self.temperatures_, strict=True)]
        )
        return weighted_average(P, self.weights_)

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.task_ != "classification":
            raise DataError(
                "predict_proba is for classification; this ensemble does regression: use predict"
            )
        return self.predict_output(X)

    def predict(self, X: Any) -> np.ndarray:
        out = self.predict_output(X)
        if self.task_ == "classification":
            assert self.classes_ is not None
            return self.classes_[out.argmax(axis=1)]
        return out[:, 0]
