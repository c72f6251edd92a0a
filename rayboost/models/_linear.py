"""Linear model family: StandardScaler + LogisticRegression (classification) or Ridge.

The regularisation strength is chosen on the validation split only; the model kept is
the one fit on the training split with that value. Saved as plain JSON (no pickle).

On a mixed-type table (given the encoder's ``layout``) it is the "wide" model of wide & deep:
the one-hot columns plus crosses of each pair of categorical columns, one 0/1 column per
combination of their levels, hashed into ``cross_buckets`` columns where a pair has more.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit, softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from rayboost._errors import ConfigError, DataError

__all__ = ["LinearModel"]

TASKS = ("classification", "regression")
_GRID = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3]
_CLIP = 1e-15
_FORMAT_VERSION = 1


# ------------------------------------------------------- helpers shared by the model families


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _as_matrix(
    X: object, what: str, n_features: int | None = None, allow_missing: bool = False
) -> np.ndarray:
    """N×D float matrix; image-shaped N×C×H×W (any ndim ≥ 2) is flattened to N×D.

    ``allow_missing`` lets NaN through (XGBoost treats it as missing); inf never passes.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise DataError(f"{what} must be N×D or N×C×H×W, got shape {X.shape}")
    X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise DataError(f"{what} is empty; pass at least one row")
    if n_features is not None and X.shape[1] != n_features:
        raise DataError(
            f"{what} has {X.shape[1]} features after flattening but the model expects {n_features}"
        )
    bad = np.isinf(X) if allow_missing else ~np.isfinite(X)
    if bad.any():
        kind = "infinite" if allow_missing else "NaN or infinite"
        raise DataError(f"{what} has {int(bad.sum())} {kind} values; impute or drop them first")
    return X


def _as_targets(y: object, n_rows: int, task: str, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n_rows:
        raise DataError(
            f"{what} must be 1-D with {n_rows} entries (one per row), got shape {y.shape}"
        )
    if task == "regression":
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise DataError(f"{what} has NaN or infinite targets; drop or impute those rows")
        return y
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{what} must hold integer class indices 0..C-1")
        y = y.astype(np.int64)
    if y.min() < 0:
        raise DataError(f"{what} has negative labels; classes must be indices 0..C-1")
    return y.astype(np.int64)


def _resolve_n_classes(n_classes: int | None, task: str, *labels: np.ndarray) -> int | None:
    """Checked class count: the given one, or max label + 1 when None."""
    if task == "regression":
        if n_classes is not None:
            raise ConfigError("n_classes is only for classification; pass None for regression")
        return None
    seen = max(int(y.max()) for y in labels) + 1
    if n_classes is None:
        n_classes = max(seen, 2)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ConfigError(f"n_classes must be an integer ≥ 2, got {n_classes!r}")
    if seen > n_classes:
        raise DataError(f"labels go up to {seen - 1} but n_classes is {n_classes}; fix n_classes")
    return int(n_classes)


def _check_threads(n_threads: int) -> int:
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or n_threads < 1:
        raise ConfigError(f"n_threads must be a positive integer, got {n_threads!r}")
    return int(n_threads)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _prepare(
    X_train: object,
    y_train: object,
    X_val: object,
    y_val: object,
    task: str,
    allow_missing: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    Xt = _as_matrix(X_train, "X_train", allow_missing=allow_missing)
    Xv = _as_matrix(X_val, "X_val", Xt.shape[1], allow_missing)
    yt = _as_targets(y_train, Xt.shape[0], task, "y_train")
    yv = _as_targets(y_val, Xv.shape[0], task, "y_val")
    return Xt, yt, Xv, yv


def _val_loss(out: np.ndarray, y: np.ndarray, task: str) -> float:
    """Log loss (classification) or MSE (regression) of (samples, outputs) predictions."""
    if task == "classification":
        return float(-np.mean(np.log(np.clip(out[np.arange(len(y)), y], _CLIP, 1.0))))
    return float(np.mean((out[:, 0] - y) ** 2))


# ----------------------------------------------------------------------------- the model


Arrays = dict[str, np.ndarray | None]


def _estimator_arrays(scaler: StandardScaler, est: LogisticRegression | Ridge) -> Arrays:
    """Everything a prediction needs, as float64 / int64 arrays (``classes`` is None for Ridge)."""
    classes = getattr(est, "classes_", None)
    return {
        "mean": np.asarray(scaler.mean_, dtype=np.float64),
        "scale": np.asarray(scaler.scale_, dtype=np.float64),
        "coef": np.atleast_2d(np.asarray(est.coef_, dtype=np.float64)),
        "intercept": np.atleast_1d(np.asarray(est.intercept_, dtype=np.float64)),
        "classes": None if classes is None else np.asarray(classes, dtype=np.int64),
    }


def _linear_output(X: np.ndarray, arrays: Arrays, n_classes: int | None) -> np.ndarray:
    """(samples, outputs) from the fitted arrays: the one prediction path before and after load."""
    coef = arrays["coef"]
    z = ((X - arrays["mean"]) / arrays["scale"]) @ coef.T + arrays["intercept"]
    if n_classes is None:
        return z[:, :1]
    probs = (
        np.column_stack([1.0 - expit(z[:, 0]), expit(z[:, 0])])
        if coef.shape[0] == 1
        else softmax(z, axis=1)
    )
    out = np.zeros((X.shape[0], n_classes))
    out[:, arrays["classes"]] = probs
    return out


MAX_CROSS_COLUMNS = 512
"""At most this many cross columns in all (pairs with the fewest combinations first)."""
_CROSS_PRIME = 1_000_003


def crossed(X: np.ndarray, layout: dict[str, Any] | None, buckets: int) -> np.ndarray:
    """``X`` with 0/1 columns for the crosses of each pair of categorical one-hot blocks of
    ``layout`` appended (see the module's docstring); ``X`` itself without two such blocks."""
    spans = [(int(a), int(b)) for a, b in (layout or {}).get("categorical", [])]
    if len(spans) < 2:
        return X
    codes = [X[:, a:b].argmax(axis=1) for a, b in spans]
    pairs = sorted(
        ((i, j) for i in range(len(spans)) for j in range(i + 1, len(spans))),
        key=lambda p: (spans[p[0]][1] - spans[p[0]][0]) * (spans[p[1]][1] - spans[p[1]][0]),
    )
    blocks, used = [], 0
    for i, j in pairs:
        levels_j = spans[j][1] - spans[j][0]
        combinations = (spans[i][1] - spans[i][0]) * levels_j
        size = min(combinations, buckets)
        if used + size > MAX_CROSS_COLUMNS:
            break
        index = (
            codes[i] * levels_j + codes[j]
            if combinations <= buckets
            else (codes[i] * _CROSS_PRIME + codes[j]) % buckets
        )
        block = np.zeros((len(X), size), dtype=X.dtype)
        block[np.arange(len(X)), index] = 1.0
        blocks.append(block)
        used += size
    return np.hstack([X, *blocks])


class LinearModel:
    """Standardised linear model with C (classification) or alpha (regression) picked on validation."""

    kind = "linear"

    def __init__(
        self,
        task: str,
        n_classes: int | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        n_threads: int = 1,
        layout: dict[str, Any] | None = None,
        cross_buckets: int = 32,
    ) -> None:
        """``layout``: a mixed-type table's encoded layout; its categorical columns are then
        crossed in pairs (``cross_buckets`` columns per pair at most)."""
        self.task = task
        self.n_classes = n_classes
        self.params = params
        self.seed = seed
        self.n_threads = n_threads
        self.layout = layout
        self.cross_buckets = int(cross_buckets)
        if self.cross_buckets < 1:
            raise ConfigError(f"cross_buckets must be at least 1, got {cross_buckets!r}")

    def _wide(self, X: np.ndarray) -> np.ndarray:
        return crossed(X, self.layout, self.cross_buckets)

    @staticmethod
    def default_params(task: str) -> dict[str, Any]:
        """Grid of C (classification, with lbfgs ``max_iter``) or alpha (regression)."""
        if _check_task(task) == "classification":
            return {"C_grid": list(_GRID), "max_iter": 2000}
        return {"alpha_grid": list(_GRID)}

    def _resolved_params(self) -> dict[str, Any]:
        defaults = self.default_params(self.task)
        params = dict(self.params or {})
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ConfigError(
                f"unknown linear params {unknown} for task {self.task!r}; valid keys: {sorted(defaults)}"
            )
        merged = {**defaults, **params}
        grid_key = "C_grid" if self.task == "classification" else "alpha_grid"
        grid = merged[grid_key]
        if np.isscalar(grid):
            grid = [grid]
        grid = [float(v) for v in grid]
        if not grid or not all(math.isfinite(v) and v > 0 for v in grid):
            raise ConfigError(
                f"{grid_key} must be a non-empty list of positive numbers, got {merged[grid_key]!r}"
            )
        merged[grid_key] = grid
        if "max_iter" in merged and int(merged["max_iter"]) < 1:
            raise ConfigError(f"max_iter must be a positive integer, got {merged['max_iter']!r}")
        return merged

    def _estimator(self, value: float, params: dict[str, Any]) -> LogisticRegression | Ridge:
        if self.task == "classification":
            return LogisticRegression(
                C=value, solver="lbfgs", max_iter=int(params["max_iter"]), random_state=self.seed
            )
        return Ridge(alpha=value, random_state=self.seed)

    def _set_arrays(self, arrays: Arrays) -> None:
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]
        self.classes_ = arrays["classes"]

    def _arrays(self) -> Arrays:
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "classes": self.classes_,
        }

    def fit(self, X_train: object, y_train: object, X_val: object, y_val: object) -> LinearModel:
        """Fit one model per grid value on train; keep the one with the lowest validation loss."""
        _check_task(self.task)
        params = self._resolved_params()
        Xt, yt, Xv, yv = _prepare(X_train, y_train, X_val, y_val, self.task)
        n_features = Xt.shape[1]
        Xt, Xv = self._wide(Xt), self._wide(Xv)
        self.n_classes_ = _resolve_n_classes(self.n_classes, self.task, yt, yv)
        if self.task == "classification" and np.unique(yt).size < 2:
            raise DataError("y_train has a single class; a classifier needs at least 2")
        grid_key = "C_grid" if self.task == "classification" else "alpha_grid"
        n_threads = _check_threads(self.n_threads)
        with threadpool_limits(limits=n_threads), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scaler = StandardScaler().fit(Xt)
            Xt_s = scaler.transform(Xt)
            fitted = [self._estimator(v, params).fit(Xt_s, yt) for v in params[grid_key]]
        candidates = [_estimator_arrays(scaler, est) for est in fitted]
        val_losses = [
            _val_loss(_linear_output(Xv, arrays, self.n_classes_), yv, self.task)
            for arrays in candidates
        ]
        best = int(np.argmin(val_losses))  # ties go to the first grid value
        est, value = fitted[best], params[grid_key][best]
        self._set_arrays(candidates[best])
        self.n_features_ = n_features
        self.chosen_ = {"C" if self.task == "classification" else "alpha": value}
        self.summary_ = {
            **self.chosen_,
            "n_features": int(n_features),
            "cross_columns": int(Xt.shape[1] - n_features),
            "val_loss": val_losses[best],
            "grid_val_losses": val_losses,
        }
        if self.task == "classification":
            self.summary_["converged"] = bool(np.all(est.n_iter_ < int(params["max_iter"])))
        return self

    def refit(self, X: object, y: object) -> LinearModel:
        """A new model fit on ``X, y`` (e.g. train + validation rows) with the C / alpha that
        validation chose, with nothing held out."""
        self._check_fitted()
        Xa = _as_matrix(X, "X", self.n_features_)
        ya = _as_targets(y, len(Xa), self.task, "y")
        Xa_wide = self._wide(Xa)
        params = self._resolved_params()
        value = next(iter(self.chosen_.values()))
        start = time.perf_counter()
        with threadpool_limits(limits=_check_threads(self.n_threads)), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scaler = StandardScaler().fit(Xa_wide)
            est = self._estimator(value, params).fit(scaler.transform(Xa_wide), ya)
        model = LinearModel(
            self.task,
            self.n_classes_,
            self.params,
            self.seed,
            self.n_threads,
            self.layout,
            self.cross_buckets,
        )
        model.n_classes_ = self.n_classes_
        model._set_arrays(_estimator_arrays(scaler, est))
        if model.task == "classification" and len(model.classes_) != len(self.classes_):
            raise DataError(
                "the refit rows miss a class the model was fit on; refit on train + validation rows"
            )
        model.n_features_ = self.n_features_
        model.chosen_ = dict(self.chosen_)
        model.summary_ = {
            **self.summary_,
            "refit_rows": len(Xa),
            "fit_s": time.perf_counter() - start,
        }
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise ConfigError(
                "this LinearModel is not fitted yet; call fit(...) or load(...) first"
            )

    def predict_output(self, X: object) -> np.ndarray:
        """Class probabilities (samples, n_classes) or regression predictions (samples, 1)."""
        self._check_fitted()
        X = _as_matrix(X, "X", self.n_features_)
        return _linear_output(self._wide(X), self._arrays(), self.n_classes_)

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities (classification only)."""
        from rayboost.models._kinds import proba_of

        return proba_of(self, X)

    def save(self, folder: Path) -> None:
        """Write ``model.json`` (arrays as lists; floats round-trip exactly)."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {
            "format_version": _FORMAT_VERSION,
            "kind": self.kind,
            "task": self.task,
            "n_classes": self.n_classes_,
            "params": _jsonable(self.params),
            "seed": self.seed,
            "n_threads": self.n_threads,
            "layout": self.layout,
            "cross_buckets": self.cross_buckets,
            "n_features": self.n_features_,
            "scaler_mean": self.mean_.tolist(),
            "scaler_scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
            "classes": None if self.classes_ is None else self.classes_.tolist(),
            "chosen": self.chosen_,
            "summary": self.summary_,
        }
        (folder / "model.json").write_text(json.dumps(state, indent=1))

    @classmethod
    def load(cls, folder: Path) -> LinearModel:
        """Rebuild a model saved by :meth:`save`; it predicts the same outputs."""
        path = Path(folder) / "model.json"
        if not path.is_file():
            raise DataError(f"no linear model at {path}; save one with LinearModel.save first")
        state = json.loads(path.read_text())
        if state.get("kind") != cls.kind or state.get("format_version") != _FORMAT_VERSION:
            raise DataError(
                f"{path} is not a version-{_FORMAT_VERSION} linear model "
                f"(kind={state.get('kind')!r}, format_version={state.get('format_version')!r})"
            )
        model = cls(
            state["task"],
            state["n_classes"],
            state["params"],
            state["seed"],
            state["n_threads"],
            state.get("layout"),  # absent: saved before crosses
            state.get("cross_buckets", 32),
        )
        model.n_classes_ = state["n_classes"]
        model.mean_ = np.asarray(state["scaler_mean"], dtype=np.float64)
        model.scale_ = np.asarray(state["scaler_scale"], dtype=np.float64)
        model.coef_ = np.asarray(state["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
        classes = state["classes"]
        model.classes_ = None if classes is None else np.asarray(classes, dtype=np.int64)
        model.n_features_ = int(state.get("n_features", model.coef_.shape[1]))
        model.chosen_ = state["chosen"]
        model.summary_ = state["summary"]
        return model
