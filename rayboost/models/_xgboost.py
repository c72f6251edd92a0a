"""XGBoost model family: native ``xgboost.train`` with early stopping on the validation split.

Saved as ``model.ubj`` (XGBoost's own binary JSON) plus ``meta.json``; no pickle.
"""

from __future__ import annotations

import difflib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from rayboost._errors import ConfigError, DataError
from rayboost.models._linear import (
    _as_matrix,
    _as_targets,
    _check_task,
    _check_threads,
    _jsonable,
    _prepare,
    _resolve_n_classes,
)

__all__ = ["KNOWN_PARAMS", "XGBoostModel", "check_params"]

_FORMAT_VERSION = 1
# Set from the constructor and the task; a params dict must not override them.
_RESERVED = ("objective", "num_class", "nthread", "n_jobs", "seed", "random_state")
# Integer-valued settings that search spaces (hyperopt quniform) hand over as floats.
_INT_KEYS = (
    "max_depth",
    "max_leaves",
    "max_bin",
    "num_parallel_tree",
    "num_boost_round",
    "early_stopping_rounds",
)


# XGBoost's tree-booster and learning-task parameters a user may set (aliases included), plus
# rayboost's two training settings; anything else is most likely a misspelling that XGBoost would
# ignore with only a log line.
KNOWN_PARAMS = frozenset(
    {
        "eta",
        "learning_rate",
        "gamma",
        "min_split_loss",
        "max_depth",
        "min_child_weight",
        "max_delta_step",
        "subsample",
        "sampling_method",
        "colsample_bytree",
        "colsample_bylevel",
        "colsample_bynode",
        "lambda",
        "reg_lambda",
        "alpha",
        "reg_alpha",
        "tree_method",
        "scale_pos_weight",
        "grow_policy",
        "max_leaves",
        "max_bin",
        "num_parallel_tree",
        "monotone_constraints",
        "interaction_constraints",
        "multi_strategy",
        "max_cat_to_onehot",
        "max_cat_threshold",
        "device",
        "verbosity",
        "base_score",
        "eval_metric",
        "booster",
        "huber_slope",
        "quantile_alpha",
        "max_cached_hist_node",
        "refresh_leaf",
        "process_type",
        "updater",
        "rate_drop",
        "one_drop",
        "skip_drop",
        "sample_type",
        "normalize_type",
        "feature_selector",
        "top_k",
        "num_boost_round",
        "early_stopping_rounds",
    }
)


def check_params(params: dict[str, Any]) -> None:
    """Refuse what XGBoost would reject or ignore, before any training: rayboost's reserved keys,
    unknown keys (with the closest known one), non-integer counts."""
    clashes = sorted(set(params) & set(_RESERVED))
    if clashes:
        raise ConfigError(
            f"ensemble.xgboost_params: {', '.join(clashes)} {'is' if len(clashes) == 1 else 'are'} set by rayboost "
            "from the task and resources; remove them"
        )
    for key in params:
        if key not in KNOWN_PARAMS:
            hint = difflib.get_close_matches(str(key), sorted(KNOWN_PARAMS), n=1)
            did = f" (did you mean {hint[0]}?)" if hint else ""
            raise ConfigError(f"ensemble.xgboost_params: unknown XGBoost parameter {key!r}{did}")
    for key, value in params.items():
        if isinstance(value, float) and not np.isfinite(value):
            raise ConfigError(
                f"ensemble.xgboost_params.{key}: expected a finite number, got {value!r}"
            )
    _as_int_params(params)


def _as_int_params(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    for key in _INT_KEYS:
        value = out.get(key)
        if value is None or isinstance(value, bool):
            continue
        if not float(value).is_integer():
            raise ConfigError(f"xgboost param {key} must be a whole number, got {value!r}")
        out[key] = int(value)
    return out


def _objective(task: str, n_classes: int | None) -> dict[str, Any]:
    if task == "regression":
        return {"objective": "reg:squarederror", "eval_metric": "rmse"}
    if n_classes == 2:
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {"objective": "multi:softprob", "num_class": n_classes, "eval_metric": "mlogloss"}


class _Deadline(xgb.callback.TrainingCallback):
    """Stops boosting after the first round that ends past ``deadline`` (``time.time()``)."""

    def __init__(self, deadline: float | None) -> None:
        super().__init__()
        self.deadline = deadline
        self.hit = False

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        if self.deadline is not None and time.time() >= self.deadline:
            self.hit = True
        return self.hit


class XGBoostModel:
    """Gradient-boosted trees; the number of rounds is chosen by early stopping on validation."""

    kind = "xgboost"

    def __init__(
        self,
        task: str,
        n_classes: int | None = None,
        params: dict[str, Any] | None = None,
        seed: int = 0,
        n_threads: int = 1,
        layout: dict[str, Any] | None = None,
    ) -> None:
        """``layout``: a mixed-type table's encoded layout (see
        :meth:`rayboost.data.TableEncoder.layout`): each categorical column's one-hot block is
        then given to XGBoost as one native categorical feature, and filled numbers are empty
        again (XGBoost learns where missing values go)."""
        self.task = task
        self.n_classes = n_classes
        self.params = params
        self.seed = seed
        self.n_threads = n_threads
        self.layout = layout

    def _dmatrix(self, X: np.ndarray, label: np.ndarray | None = None) -> xgb.DMatrix:
        threads = _check_threads(self.n_threads)
        if not self.layout or not (
            self.layout.get("categorical") or self.layout.get("missing_flags")
        ):
            return xgb.DMatrix(X, label=label, nthread=threads)
        spans = [(int(a), int(b)) for a, b in self.layout.get("categorical", [])]
        flags = {int(v): int(f) for v, f in self.layout.get("missing_flags", [])}
        skip = {i for a, b in spans for i in range(a, b)} | set(flags.values())
        numeric = [i for i in range(X.shape[1]) if i not in skip]
        columns = []
        for i in numeric:
            values = X[:, i].astype(np.float32)
            if i in flags:
                # a 0/1 flag, also once standardized: "was missing" is its only positive value
                values = np.where(X[:, flags[i]] > 0, np.nan, values)
            columns.append(values)
        columns += [X[:, a:b].argmax(axis=1).astype(np.float32) for a, b in spans]
        matrix = np.column_stack(columns) if columns else np.zeros((len(X), 0), np.float32)
        types = ["q"] * len(numeric) + ["c"] * len(spans)
        return xgb.DMatrix(
            matrix, label=label, nthread=threads, feature_types=types, enable_categorical=True
        )

    @staticmethod
    def default_params(task: str) -> dict[str, Any]:
        """Booster defaults plus the ``num_boost_round`` cap and ``early_stopping_rounds``."""
        _check_task(task)
        return {
            "eta": 0.1,
            "max_depth": 6,
            "subsample": 0.9,
            "colsample_bytree": 0.8,
            "tree_method": "hist",
            "num_boost_round": 2000,
            "early_stopping_rounds": 30,
        }

    def _booster_params(self) -> tuple[dict[str, Any], int, int | None]:
        """(booster params, round cap, early stopping rounds or None)."""
        user = dict(self.params or {})
        clashes = sorted(set(user) & set(_RESERVED))
        if clashes:
            raise ConfigError(
                f"xgboost params {clashes} are set by rayboost; use the task, n_classes, "
                "seed and n_threads arguments instead"
            )
        merged = _as_int_params({**self.default_params(self.task), **user})
        rounds = merged.pop("num_boost_round")
        patience = merged.pop("early_stopping_rounds")
        if rounds < 1:
            raise ConfigError(f"num_boost_round must be ≥ 1, got {rounds}")
        if patience is not None and patience < 1:
            patience = None  # 0 or negative: train all rounds
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")
        booster = {
            **_objective(self.task, self.n_classes_),
            **merged,
            "nthread": _check_threads(self.n_threads),
            "seed": int(self.seed),
        }
        return booster, rounds, patience

    def fit(
        self,
        X_train: object,
        y_train: object,
        X_val: object,
        y_val: object,
        deadline: float | None = None,
    ) -> XGBoostModel:
        """Train on the train split; early stopping looks at the validation split only.

        ``deadline`` (a ``time.time()``) ends boosting after the round that passes it; the model
        keeps its best round so far (``summary_["deadline_stopped"]``)."""
        _check_task(self.task)
        Xt, yt, Xv, yv = _prepare(X_train, y_train, X_val, y_val, self.task, allow_missing=True)
        self.n_classes_ = _resolve_n_classes(self.n_classes, self.task, yt, yv)
        booster_params, rounds, patience = self._booster_params()
        dtrain, dval = self._dmatrix(Xt, yt), self._dmatrix(Xv, yv)
        start = time.perf_counter()
        stop = _Deadline(deadline)
        # early stopping first: it must see every round, the deadline's included
        callbacks = [xgb.callback.EarlyStopping(rounds=patience)] if patience is not None else []
        booster = xgb.train(
            booster_params,
            dtrain,
            num_boost_round=rounds,
            evals=[(dval, "val")],
            verbose_eval=False,
            callbacks=[*callbacks, stop],
        )
        n_rounds = int(booster.num_boosted_rounds())
        best = int(booster.best_iteration) if patience is not None else n_rounds - 1
        self.booster_ = booster
        self.best_iteration_ = best
        self.n_features_ = Xt.shape[1]
        self.summary_ = {
            "best_iteration": best,
            "n_rounds": n_rounds,
            "num_boost_round": rounds,
            "early_stopped": n_rounds < rounds and not stop.hit,
            "deadline_stopped": stop.hit,
            "n_features": int(Xt.shape[1]),
            "fit_s": time.perf_counter() - start,
        }
        if patience is not None:
            self.summary_["best_val_score"] = float(booster.best_score)
        return self

    def refit(self, X: object, y: object) -> XGBoostModel:
        """A new model with the same parameters trained on ``X, y`` (e.g. train + validation
        rows) for the rounds early stopping chose, with nothing held out."""
        self._check_fitted()
        Xa = _as_matrix(X, "X", self.n_features_, allow_missing=True)
        ya = _as_targets(y, len(Xa), self.task, "y")
        model = XGBoostModel(
            self.task, self.n_classes_, self.params, self.seed, self.n_threads, self.layout
        )
        model.n_classes_ = self.n_classes_
        booster_params, _, _ = model._booster_params()
        rounds = self.best_iteration_ + 1
        start = time.perf_counter()
        dtrain = model._dmatrix(Xa, ya)
        model.booster_ = xgb.train(
            booster_params, dtrain, num_boost_round=rounds, verbose_eval=False
        )
        model.best_iteration_ = rounds - 1
        model.n_features_ = self.n_features_
        model.summary_ = {
            **self.summary_,
            "refit_rows": len(Xa),
            "refit_rounds": rounds,
            "fit_s": time.perf_counter() - start,
        }
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise ConfigError(
                "this XGBoostModel is not fitted yet; call fit(...) or load(...) first"
            )

    def predict_output(self, X: object) -> np.ndarray:
        """Class probabilities (samples, n_classes; binary gives 2) or (samples, 1) for regression."""
        self._check_fitted()
        X = _as_matrix(X, "X", self.n_features_, allow_missing=True)
        dmat = self._dmatrix(X)
        raw = self.booster_.predict(dmat, iteration_range=(0, self.best_iteration_ + 1))
        raw = np.asarray(raw, dtype=np.float64)
        if self.task == "regression":
            return raw.reshape(-1, 1)
        if self.n_classes_ == 2:
            return np.column_stack([1.0 - raw, raw])
        return raw / raw.sum(axis=1, keepdims=True)

    def predict_proba(self, X: object) -> np.ndarray:
        """Class probabilities (classification only)."""
        from rayboost.models._kinds import proba_of

        return proba_of(self, X)

    def save(self, folder: Path) -> None:
        """Write ``model.ubj`` and ``meta.json`` into ``folder``."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "model.ubj"))
        meta = {
            "format_version": _FORMAT_VERSION,
            "kind": self.kind,
            "task": self.task,
            "n_classes": self.n_classes_,
            "best_iteration": self.best_iteration_,
            "n_features": self.n_features_,
            "params": _jsonable(self.params),
            "seed": self.seed,
            "n_threads": self.n_threads,
            "layout": self.layout,
            "summary": self.summary_,
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: Path) -> XGBoostModel:
        """Rebuild a model saved by :meth:`save`; predictions are identical."""
        folder = Path(folder)
        meta_path, model_path = folder / "meta.json", folder / "model.ubj"
        if not meta_path.is_file() or not model_path.is_file():
            raise DataError(f"no xgboost model in {folder}; expected meta.json and model.ubj")
        meta = json.loads(meta_path.read_text())
        if meta.get("kind") != cls.kind or meta.get("format_version") != _FORMAT_VERSION:
            raise DataError(
                f"{meta_path} is not a version-{_FORMAT_VERSION} xgboost model "
                f"(kind={meta.get('kind')!r}, format_version={meta.get('format_version')!r})"
            )
        model = cls(
            meta["task"],
            meta["n_classes"],
            meta["params"],
            meta["seed"],
            meta["n_threads"],
            meta.get("layout"),  # absent: saved before native categoricals
        )
        booster = xgb.Booster()
        booster.load_model(str(model_path))
        booster.set_param({"nthread": _check_threads(model.n_threads)})
        model.booster_ = booster
        model.n_classes_ = meta["n_classes"]
        model.best_iteration_ = int(meta["best_iteration"])
        model.n_features_ = int(meta["n_features"])
        model.summary_ = meta["summary"]
        return model
