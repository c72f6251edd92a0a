"""Ensemble member kinds: one contract (:class:`MemberModel`), registered in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from rayboost._errors import DataError
from rayboost.models._linear import LinearModel
from rayboost.models._saved import NetModel
from rayboost.models._xgboost import XGBoostModel

__all__ = ["MEMBER_KINDS", "MemberModel", "proba_of"]


@runtime_checkable
class MemberModel(Protocol):
    """What every member kind does, so that tuning, the ensemble and ``predict`` treat them
    alike. Inputs are the scaled (and, for a mixed-type table, encoded) feature rows; a kind
    that reads the table's structure (a net's embeddings, XGBoost's native categoricals) gets
    the encoder's ``layout`` when it is made.

    - ``fit(X_train, y_train, X_val, y_val)``: train on the train rows; the validation rows
      only choose when to stop (epochs, boosting rounds) or how strongly to regularise.
    - ``refit(X, y)``: a new model with what validation chose, trained on ``X, y`` (train +
      validation rows), nothing held out.
    - ``predict_output(X)``: class probabilities (N, C) or regression values (N, 1);
      ``predict_proba(X)`` the same, for classification only.
    - ``save(folder)`` / ``load(folder)``: JSON plus the kind's own safe format (a torch state
      dict read with ``weights_only``, XGBoost's UBJSON); no pickle.
    """

    kind: ClassVar[str]
    task: str

    def fit(self, X_train: Any, y_train: Any, X_val: Any, y_val: Any) -> MemberModel: ...

    def refit(self, X: Any, y: Any) -> MemberModel: ...

    def predict_output(self, X: Any) -> np.ndarray: ...

    def predict_proba(self, X: Any) -> np.ndarray: ...

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path) -> MemberModel: ...


def proba_of(model: Any, X: Any) -> np.ndarray:
    """``predict_output`` of a classifier; a regression model has no probabilities."""
    if model.task != "classification":
        raise DataError(
            f"predict_proba is for classification; this {model.kind} model does regression: "
            "use predict_output"
        )
    return model.predict_output(X)


MEMBER_KINDS: dict[str, type[MemberModel]] = {
    "net": NetModel,
    "xgboost": XGBoostModel,
    "linear": LinearModel,
}
"""Every member kind by its name in ``ensemble.json`` and the members table."""
