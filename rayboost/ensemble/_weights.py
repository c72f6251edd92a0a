"""Ensemble weights over member predictions, plus scoring and a paired bootstrap.

``P`` always has shape (members, samples, outputs). For classification the outputs are
class probabilities in one shared class order and ``y`` holds class indices 0..C-1; for
regression there is one output and ``y`` is float.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from rayboost._errors import ConfigError, DataError

__all__ = [
    "METHODS",
    "TASKS",
    "bootstrap_diff_ci",
    "fit_weights",
    "score",
    "weighted_average",
]

TASKS = ("classification", "regression")
METHODS = ("bagged", "greedy", "optimize", "uniform", "weights")

_CLIP = 1e-15  # probabilities are clipped to [_CLIP, 1] before the log
_PROB_ATOL = 1e-4  # tolerance for "rows sum to 1" and "values in [0, 1]"
_TINY_WEIGHT = 1e-6  # optimised weights below this are set to 0


# ----------------------------------------------------------------------------- validation


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
    return task


def _check_labels(y: np.ndarray, n_classes: int) -> np.ndarray:
    if y.size and not np.all(np.isfinite(y)):
        raise DataError("y has NaN or infinite labels; classification labels must be ints")
    if not np.issubdtype(y.dtype, np.integer):
        if y.size and not np.all(y == np.round(y)):
            raise DataError("classification labels must be integer class indices 0..C-1")
        y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise DataError(
            f"class labels must lie in 0..{n_classes - 1} (the number of probability "
            f"columns), got range {y.min()}..{y.max()}"
        )
    return y


def _check_probabilities(pred: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(pred)):
        raise DataError(f"{what} has NaN or infinite values; pass finite probabilities")
    if pred.min() < -_PROB_ATOL or pred.max() > 1 + _PROB_ATOL:
        raise DataError(f"{what} must hold probabilities in [0, 1] for classification")
    if not np.allclose(pred.sum(axis=-1), 1.0, atol=_PROB_ATOL):
        raise DataError(f"{what}: class probabilities must sum to 1 per row; apply softmax first")


def _check_targets(y: object, n_samples: int, n_outputs: int, task: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"y must be 1-D with one label per sample, got shape {y.shape}")
    if len(y) != n_samples:
        raise DataError(f"y has {len(y)} entries but the predictions have {n_samples} samples")
    if n_samples == 0:
        raise DataError("predictions and y are empty; pass at least one sample")
    if task == "classification":
        return _check_labels(y, n_outputs)
    if n_outputs != 1:
        raise DataError(f"regression predictions need exactly 1 output, got {n_outputs}")
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise DataError("y has NaN or infinite values; drop or impute those rows")
    return y


def _check_members(P: object, y: object, task: str) -> tuple[np.ndarray, np.ndarray]:
    _check_task(task)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3:
        raise DataError(
            f"P must be 3-D (members, samples, outputs), got shape {P.shape}; "
            "stack the member predictions with np.stack"
        )
    if P.shape[0] == 0:
        raise DataError("P has no members; pass at least one member prediction")
    y = _check_targets(y, P.shape[1], P.shape[2], task)
    if task == "classification":
        _check_probabilities(P, "P")
    elif not np.all(np.isfinite(P)):
        raise DataError("P has NaN or infinite predictions; fix the member that made them")
    return P, y


def _check_pred(pred: object, y: object, task: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    _check_task(task)
    pred = np.asarray(pred, dtype=np.float64)
    if task == "regression" and pred.ndim == 1:
        pred = pred[:, None]
    if pred.ndim != 2:
        raise DataError(f"{what} must be 2-D (samples, outputs), got shape {pred.shape}")
    y = _check_targets(y, pred.shape[0], pred.shape[1], task)
    if task == "classification":
        _check_probabilities(pred, what)
    elif not np.all(np.isfinite(pred)):
        raise DataError(f"{what} has NaN or infinite predictions")
    return pred, y


def _normalise_user_weights(weights: object, n_members: int) -> np.ndarray:
    if weights is None:
        raise ConfigError(
            f"method='weights' needs weights: a list of {n_members} non-negative numbers"
        )
    w = np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n_members,):
        raise ConfigError(f"weights must have length {n_members} (one per member), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError("weights must be finite and non-negative")
    total = w.sum()
    if total <= 0:
        raise ConfigError("weights are all zero; give at least one member a positive weight")
    return w / total


# ----------------------------------------------------------------------------- losses


def _member_columns(P: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """(members, samples): true-class probability, or the regression prediction."""
    if task == "classification":
        return P[:, np.arange(P.shape[1]), y]
    return P[:, :, 0]


def _loss_rows(Q: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Loss of each row of Q (candidates, samples) built by :func:`_member_columns`."""
    if task == "classification":
        return -np.mean(np.log(np.clip(Q, _CLIP, 1.0)), axis=-1)
    return np.mean((Q - y) ** 2, axis=-1)


def _loss_and_grad(
    w: np.ndarray, cols: np.ndarray, y: np.ndarray, task: str
) -> tuple[float, np.ndarray]:
    q = w @ cols
    n = cols.shape[1]
    if task == "classification":
        clipped = np.clip(q, _CLIP, 1.0)
        inv = np.where(q > _CLIP, 1.0 / clipped, 0.0)
        return float(-np.mean(np.log(clipped))), -(cols @ inv) / n
    r = q - y
    return float(np.mean(r**2)), 2.0 * (cols @ r) / n


# ----------------------------------------------------------------------------- methods


def _greedy(P: np.ndarray, cols: np.ndarray, y: np.ndarray, task: str, n_iter: int) -> np.ndarray:
    """Caruana ensemble selection with replacement, on the task's own metric.

    Each step adds the member that gives the best accuracy (classification) or the lowest
    MSE (regression); among candidates with equal accuracy the lower log loss wins, then the
    lowest index. Selecting on accuracy rather than log loss keeps the most accurate members:
    nets trained with label smoothing are under-confident, so a log-loss greedy would drop them
    for better-calibrated but less accurate members.

    The result is the ensemble of the earliest step with the best validation accuracy (MSE), as
    Caruana et al. pick the step that scores best on the hill-climbing set: the best single
    member (step 1) stays alone unless adding members improves validation accuracy.
    """
    counts = np.zeros(cols.shape[0], dtype=np.int64)
    running_cols = np.zeros(cols.shape[1])
    running = np.zeros(P.shape[1:]) if task == "classification" else None
    best_score, best_counts = -np.inf, counts
    for step in range(1, n_iter + 1):
        losses = _loss_rows((running_cols + cols) / step, y, task)
        if running is None:
            pick = int(np.argmin(losses))
            score = -losses[pick]
        else:  # argmax of the summed probabilities is the argmax of their mean
            accuracy = np.mean(np.argmax(running + P, axis=-1) == y, axis=-1)
            pick = int(np.lexsort((np.arange(len(losses)), losses, -accuracy))[0])
            score = accuracy[pick]
            running += P[pick]
        counts[pick] += 1
        running_cols += cols[pick]
        if score > best_score:
            best_score, best_counts = score, counts.copy()
    return best_counts / best_counts.sum()


def _greedy_loss(cols: np.ndarray, y: np.ndarray, task: str, n_iter: int) -> np.ndarray:
    """Caruana selection with replacement on the proper score (log loss or MSE): each step adds
    the member that lowers it most; the weights are those of the step with the lowest loss."""
    counts = np.zeros(cols.shape[0], dtype=np.int64)
    running = np.zeros(cols.shape[1])
    best_loss, best_counts = np.inf, counts
    for step in range(1, n_iter + 1):
        losses = _loss_rows((running + cols) / step, y, task)
        pick = int(np.argmin(losses))
        counts[pick] += 1
        running += cols[pick]
        if losses[pick] < best_loss - 1e-12:
            best_loss, best_counts = float(losses[pick]), counts.copy()
    return best_counts / best_counts.sum()


def _bagged(
    cols: np.ndarray, y: np.ndarray, task: str, n_iter: int, n_bags: int, seed: int
) -> np.ndarray:
    """Bagged ensemble selection: :func:`_greedy_loss` on ``n_bags`` bootstrap resamples of the
    validation rows, the weights averaged. A member that only one resample's noise favours gets
    a small share instead of a large one; weights below 1% are then dropped."""
    rng = np.random.default_rng(seed)
    n = cols.shape[1]
    total = np.zeros(cols.shape[0])
    for _ in range(n_bags):
        idx = rng.integers(0, n, size=n)
        total += _greedy_loss(cols[:, idx], y[idx], task, n_iter)
    w = total / n_bags
    w = np.where(w < 0.01, 0.0, w)
    return w / w.sum()


def _clean(w: np.ndarray) -> np.ndarray:
    w = np.where(w < _TINY_WEIGHT, 0.0, w)
    return w / w.sum() if w.sum() > 0 else np.full_like(w, 1.0 / w.size)


def _optimize(cols: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Convex combination minimising the loss (SLSQP), never worse than uniform or a single member."""
    m = cols.shape[0]
    start = np.full(m, 1.0 / m)
    if m > 1:
        result = minimize(
            _loss_and_grad,
            start,
            args=(cols, y, task),
            jac=True,
            method="SLSQP",
            bounds=[(0.0, 1.0)] * m,
            constraints=[
                {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}
            ],
            options={"maxiter": 500, "ftol": 1e-12},
        )
        w = _clean(np.clip(result.x, 0.0, None))
    else:
        w = start
    fallbacks = np.vstack([start, np.eye(m)])
    fallback_losses = _loss_rows(fallbacks @ cols, y, task)
    best = int(np.argmin(fallback_losses))
    if _loss_and_grad(w, cols, y, task)[0] > fallback_losses[best]:
        return fallbacks[best].copy()
    return w


def fit_weights(
    P: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    method: str = "bagged",
    weights: Sequence[float] | np.ndarray | None = None,
    n_iter: int = 50,
    seed: int = 0,
    n_bags: int = 25,
) -> np.ndarray:
    """Non-negative member weights summing to 1, fit on (validation) predictions ``P``.

    ``method`` is one of :data:`METHODS`. Every method is deterministic given ``seed`` (only
    ``bagged`` draws: its bootstrap resamples).
    """
    if method not in METHODS:
        raise ConfigError(f"unknown ensemble method {method!r}; use one of {METHODS}")
    if weights is not None and method != "weights":
        raise ConfigError(
            f"weights are only used with method='weights', not method={method!r}; "
            "drop them or set method='weights'"
        )
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
        raise ConfigError(f"n_iter must be a positive integer, got {n_iter!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    P, y = _check_members(P, y, task)
    m = P.shape[0]
    if method == "uniform":
        return np.full(m, 1.0 / m)
    if method == "weights":
        return _normalise_user_weights(weights, m)
    cols = _member_columns(P, y, task)
    if method == "greedy":
        return _greedy(P, cols, y, task, int(n_iter))
    if method == "bagged":
        return _bagged(cols, y, task, int(n_iter), int(n_bags), int(seed))
    return _optimize(cols, y, task)


def weighted_average(P: np.ndarray, w: Sequence[float] | np.ndarray) -> np.ndarray:
    """Weighted mean over members, (samples, outputs); zero-weight members are not read."""
    P = np.asarray(P)
    if P.ndim != 3:
        raise DataError(f"P must be 3-D (members, samples, outputs), got shape {P.shape}")
    w = np.asarray(w, dtype=np.float64).ravel()
    if w.shape != (P.shape[0],):
        raise ConfigError(f"w must have length {P.shape[0]} (one per member), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ConfigError("w must be finite, non-negative and not all zero")
    used = np.flatnonzero(w > 0)
    return np.average(P[used].astype(np.float64), axis=0, weights=w[used])


# ----------------------------------------------------------------------------- scoring


def _log_loss(pred: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(pred[np.arange(len(y)), y], _CLIP, 1.0))))


def score(pred: np.ndarray, y: np.ndarray, *, task: str) -> dict[str, float]:
    """Classification: ``accuracy`` and ``log_loss``; regression: ``rmse``."""
    pred, y = _check_pred(pred, y, task, "pred")
    if task == "classification":
        return {
            "accuracy": float(np.mean(np.argmax(pred, axis=1) == y)),
            "log_loss": _log_loss(pred, y),
        }
    return {"rmse": float(np.sqrt(np.mean((pred[:, 0] - y) ** 2)))}


def _row_stats(pred: np.ndarray, y: np.ndarray, task: str) -> np.ndarray:
    """Per-row correctness (classification) or squared error (regression)."""
    if task == "classification":
        return (np.argmax(pred, axis=1) == y).astype(np.float64)
    return (pred[:, 0] - y) ** 2


def _metric(stats: np.ndarray, task: str) -> np.ndarray:
    mean = stats.mean(axis=-1)
    return mean if task == "classification" else np.sqrt(mean)


def bootstrap_diff_ci(
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    y: np.ndarray,
    *,
    task: str,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Primary metric (accuracy or RMSE) of a minus b, with a paired percentile bootstrap CI."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must be strictly between 0 and 1 (e.g. 0.95), got {level!r}")
    pred_a, y = _check_pred(pred_a, y, task, "pred_a")
    pred_b, _ = _check_pred(pred_b, y, task, "pred_b")
    if pred_a.shape != pred_b.shape:
        raise DataError(
            f"pred_a and pred_b must have the same shape, got {pred_a.shape} and {pred_b.shape}"
        )
    stats_a, stats_b = _row_stats(pred_a, y, task), _row_stats(pred_b, y, task)
    diff = float(_metric(stats_a, task) - _metric(stats_b, task))
    n = len(y)
    rng = np.random.default_rng(seed)
    index_dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
    idx = rng.integers(0, n, size=(int(n_boot), n), dtype=index_dtype)
    boot = _metric(stats_a[idx], task) - _metric(stats_b[idx], task)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [alpha, 1.0 - alpha])
    return {"diff": diff, "ci_low": float(low), "ci_high": float(high)}
