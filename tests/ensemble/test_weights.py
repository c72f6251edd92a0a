"""Ensemble weights, weighted averaging, scoring and the paired bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error

from rayboost.ensemble._weights import (
    METHODS,
    bootstrap_diff_ci,
    fit_weights,
    score,
    weighted_average,
)

N_SAMPLES = 300


def _labels(rng: np.random.Generator, n_classes: int, n: int = N_SAMPLES) -> np.ndarray:
    return rng.integers(0, n_classes, size=n)


def _noisy_member(
    rng: np.random.Generator, y: np.ndarray, n_classes: int, strength: float
) -> np.ndarray:
    """Probabilities that put roughly ``strength`` extra mass on the true class."""
    probs = rng.dirichlet(np.ones(n_classes), size=len(y))
    probs[np.arange(len(y)), y] += strength
    return probs / probs.sum(axis=1, keepdims=True)


def _logit_member(
    rng: np.random.Generator, y: np.ndarray, n_classes: int, strength: float
) -> np.ndarray:
    """Softmax of noisy logits with ``strength`` added to the true class: errors differ per member."""
    logits = rng.normal(scale=1.5, size=(len(y), n_classes))
    logits[np.arange(len(y)), y] += strength
    return softmax(logits, axis=1)


def _classification_members(n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = _labels(rng, n_classes)
    P = np.stack([_logit_member(rng, y, n_classes, s) for s in (0.5, 1.5, 2.0, 3.0)])
    return P, y


def _regression_members(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=N_SAMPLES)
    P = np.stack([(y + rng.normal(scale=s, size=N_SAMPLES))[:, None] for s in (2.0, 1.0, 0.5, 0.7)])
    return P, y


def _problem(kind: str) -> tuple[np.ndarray, np.ndarray, str]:
    if kind == "binary":
        return (*_classification_members(2), "classification")
    if kind == "multiclass":
        return (*_classification_members(5), "classification")
    return (*_regression_members(), "regression")


def _loss(pred: np.ndarray, y: np.ndarray, task: str) -> float:
    if task == "classification":
        return score(pred, y, task=task)["log_loss"]
    return score(pred, y, task=task)["rmse"] ** 2


# ----------------------------------------------------------------------------- averaging


def test_weighted_average_matches_hand_computed_oracle() -> None:
    P, _ = _classification_members(3)
    w = np.array([0.1, 0.2, 0.3, 0.4])
    expected = 0.1 * P[0] + 0.2 * P[1] + 0.3 * P[2] + 0.4 * P[3]
    out = weighted_average(P, w)
    assert out.shape == P.shape[1:]
    np.testing.assert_allclose(out, expected, atol=1e-12)
    np.testing.assert_allclose(out, np.average(P, axis=0, weights=w), atol=1e-12)
    # unnormalised weights give the same mean, as np.average does
    np.testing.assert_allclose(weighted_average(P, 10 * w), expected, atol=1e-12)


def test_weighted_average_skips_zero_weight_members() -> None:
    P, _ = _classification_members(3)
    P = P.copy()
    P[1] = np.nan
    w = np.array([0.5, 0.0, 0.25, 0.25])
    out = weighted_average(P, w)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 0.5 * P[0] + 0.25 * P[2] + 0.25 * P[3], atol=1e-12)


def test_weighted_average_rejects_bad_weights() -> None:
    P, _ = _regression_members()
    with pytest.raises(ValueError, match="length 4"):
        weighted_average(P, [1.0, 1.0])
    with pytest.raises(ValueError, match="not all zero"):
        weighted_average(P, [0.0, 0.0, 0.0, 0.0])


# ----------------------------------------------------------------------------- fit_weights


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("method", METHODS)
def test_weights_are_a_distribution(kind: str, method: str) -> None:
    P, y, task = _problem(kind)
    weights = [1.0, 2.0, 0.0, 3.0] if method == "weights" else None
    w = fit_weights(P, y, task=task, method=method, weights=weights)
    assert w.shape == (P.shape[0],)
    assert np.all(w >= 0)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    if method == "uniform":
        np.testing.assert_allclose(w, 0.25)
    if method == "weights":
        np.testing.assert_allclose(w, [1 / 6, 2 / 6, 0.0, 3 / 6])


def test_greedy_weights_are_counts_over_the_chosen_number_of_steps() -> None:
    P, y = _classification_members(3)
    w = fit_weights(P, y, task="classification", method="greedy", n_iter=20)
    steps = [s for s in range(1, 21) if np.allclose(w * s, np.round(w * s), atol=1e-9)]
    assert steps, w
    ensemble = weighted_average(P, w)
    best_single = max(accuracy_score(y, member.argmax(axis=1)) for member in P)
    assert accuracy_score(y, ensemble.argmax(axis=1)) >= best_single  # step 1 is the best member


def test_greedy_keeps_the_best_member_alone_when_adding_members_does_not_help_accuracy() -> None:
    rng = np.random.default_rng(3)
    n_classes = 5
    y = _labels(rng, n_classes)
    guess = np.where(rng.random(len(y)) < 0.9, y, (y + 1) % n_classes)

    def member(top: float) -> np.ndarray:  # the same guesses, more or less confident
        probs = np.full((len(y), n_classes), (1.0 - top) / (n_classes - 1))
        probs[np.arange(len(y)), guess] = top
        return probs

    timid, sure = member(0.4), member(0.95)
    assert log_loss(y, (timid + sure) / 2) < log_loss(
        y, timid
    )  # a mix would lower the log loss ...
    w = fit_weights(np.stack([sure, timid]), y, task="classification", method="greedy")
    assert np.count_nonzero(w) == 1  # ... but not the accuracy: the first member picked stays alone


def test_greedy_tie_break_is_lowest_index() -> None:
    P, y = _classification_members(3)
    twins = np.stack([P[3], P[3]])
    w = fit_weights(twins, y, task="classification", method="greedy", n_iter=10)
    np.testing.assert_array_equal(w, [1.0, 0.0])


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_greedy_picks_the_clearly_best_member(kind: str) -> None:
    rng = np.random.default_rng(1)
    if kind == "regression":
        y = rng.normal(size=N_SAMPLES)
        good = (y + rng.normal(scale=0.05, size=N_SAMPLES))[:, None]
        noise = [rng.normal(size=(N_SAMPLES, 1)) * 3 for _ in range(2)]
        P, task = np.stack([noise[0], good, noise[1]]), "regression"
    else:
        n_classes = 2 if kind == "binary" else 6
        y = _labels(rng, n_classes)
        good = _noisy_member(rng, y, n_classes, 8.0)
        noise = [rng.dirichlet(np.ones(n_classes), size=N_SAMPLES) for _ in range(2)]
        P, task = np.stack([noise[0], good, noise[1]]), "classification"
    w = fit_weights(P, y, task=task, method="greedy")
    assert int(np.argmax(w)) == 1
    assert w[1] >= 0.9


def _smoothed_and_confident_members(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Member 0: right on 97% of rows but under-confident (as label smoothing makes a net);
    member 1: right on 88% of rows and confident, so its log loss is the lower one."""
    rng = np.random.default_rng(seed)
    n_classes = 10
    y = _labels(rng, n_classes)

    def member(accuracy: float, top: float) -> np.ndarray:
        guess = np.where(
            rng.random(len(y)) < accuracy, y, (y + rng.integers(1, n_classes, len(y))) % n_classes
        )
        probs = np.full((len(y), n_classes), (1.0 - top) / (n_classes - 1))
        probs[np.arange(len(y)), guess] = top
        return probs

    return np.stack([member(0.97, 0.3), member(0.88, 0.95)]), y


def test_greedy_selects_on_accuracy_and_keeps_the_accurate_under_confident_member() -> None:
    P, y = _smoothed_and_confident_members()
    accuracy = [accuracy_score(y, member.argmax(axis=1)) for member in P]
    assert log_loss(y, P[0], labels=range(10)) > log_loss(y, P[1], labels=range(10))  # the trap
    w = fit_weights(P, y, task="classification", method="greedy")
    assert w[0] > w[1]
    ensemble = weighted_average(P, w)
    assert accuracy_score(y, ensemble.argmax(axis=1)) >= max(accuracy)


def test_greedy_breaks_accuracy_ties_by_log_loss() -> None:
    P, y = _classification_members(3)
    sharper = softmax(np.log(P[3]) * 2.0, axis=1)  # same argmax (same accuracy), lower log loss
    assert log_loss(y, sharper) < log_loss(y, P[3])
    w = fit_weights(np.stack([P[3], sharper]), y, task="classification", method="greedy", n_iter=1)
    np.testing.assert_array_equal(w, [0.0, 1.0])


def _train_val_members(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two honest members and one that memorised the training rows (random on validation)."""
    rng = np.random.default_rng(seed)
    n_classes = 4
    y_train, y_val = _labels(rng, n_classes), _labels(rng, n_classes)

    def members(y: np.ndarray, memorised: bool) -> np.ndarray:
        honest = [_noisy_member(rng, y, n_classes, s) for s in (1.0, 1.5)]
        if memorised:
            overfit = np.full((len(y), n_classes), 1e-6)
            overfit[np.arange(len(y)), y] = 1.0
            overfit /= overfit.sum(axis=1, keepdims=True)
        else:
            overfit = rng.dirichlet(np.ones(n_classes) * 0.3, size=len(y))
        return np.stack([honest[0], overfit, honest[1]])

    return members(y_train, True), y_train, members(y_val, False), y_val


@pytest.mark.parametrize("method", ["greedy", "optimize"])
def test_member_that_memorised_train_gets_no_weight_on_validation(method: str) -> None:
    P_train, y_train, P_val, y_val = _train_val_members()
    w_train = fit_weights(P_train, y_train, task="classification", method=method)
    w_val = fit_weights(P_val, y_val, task="classification", method=method)
    assert w_train[1] > 0.9  # fitting on training predictions would trust the memoriser ...
    assert w_val[1] < 0.05  # ... validation predictions expose it


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_optimize_is_no_worse_than_uniform_or_any_single_member(kind: str) -> None:
    P, y, task = _problem(kind)
    w = fit_weights(P, y, task=task, method="optimize")
    best = _loss(weighted_average(P, w), y, task)
    assert best <= _loss(P.mean(axis=0), y, task) + 1e-12
    for member in P:
        assert best <= _loss(member, y, task) + 1e-12
    greedy = fit_weights(P, y, task=task, method="greedy")
    assert best <= _loss(weighted_average(P, greedy), y, task) + 1e-9
    assert np.all((w == 0) | (w >= 1e-6))
    # members with independent errors: a real mixture beats the best single member
    assert np.count_nonzero(w) >= 2
    assert best < min(_loss(member, y, task) for member in P) - 1e-3


def test_optimize_single_member_and_one_hot_fallback() -> None:
    P, y = _regression_members()
    np.testing.assert_array_equal(
        fit_weights(P[:1], y, task="regression", method="optimize"), [1.0]
    )
    # one perfect member: the optimum is that member alone
    P = P.copy()
    P[2, :, 0] = y
    w = fit_weights(P, y, task="regression", method="optimize")
    assert w[2] == pytest.approx(1.0, abs=1e-6)


def test_user_weights_are_validated() -> None:
    P, y = _regression_members()
    with pytest.raises(ValueError, match="length 4"):
        fit_weights(P, y, task="regression", method="weights", weights=[1.0, 2.0])
    with pytest.raises(ValueError, match="non-negative"):
        fit_weights(P, y, task="regression", method="weights", weights=[1.0, -1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="all zero"):
        fit_weights(P, y, task="regression", method="weights", weights=[0, 0, 0, 0])
    with pytest.raises(ValueError, match="4 non-negative"):
        fit_weights(P, y, task="regression", method="weights")
    with pytest.raises(ValueError, match="only used with method='weights'"):
        fit_weights(P, y, task="regression", method="greedy", weights=[1, 1, 1, 1])


def test_inputs_are_validated() -> None:
    P, y = _classification_members(3)
    with pytest.raises(ValueError, match="greedy"):
        fit_weights(P, y, task="classification", method="stacking")
    with pytest.raises(ValueError, match="3-D"):
        fit_weights(P[0], y, task="classification")
    with pytest.raises(ValueError, match="299 entries"):
        fit_weights(P, y[:-1], task="classification")
    with pytest.raises(ValueError, match="task"):
        fit_weights(P, y, task="ranking")
    with pytest.raises(ValueError, match="sum to 1"):
        fit_weights(P * 0.5, y, task="classification")
    with pytest.raises(ValueError, match=r"0\.\.2"):
        fit_weights(P, y + 1, task="classification")
    with pytest.raises(ValueError, match="NaN"):
        fit_weights(np.where(P > 0.9, np.nan, P), y, task="classification")
    with pytest.raises(ValueError, match="n_iter"):
        fit_weights(P, y, task="classification", n_iter=0)
    with pytest.raises(ValueError, match="exactly 1 output"):
        fit_weights(P, y.astype(float), task="regression")


# ----------------------------------------------------------------------------- scoring


def test_score_matches_sklearn_metrics() -> None:
    P, y = _classification_members(5)
    got = score(P[2], y, task="classification")
    assert got["accuracy"] == pytest.approx(accuracy_score(y, P[2].argmax(axis=1)), abs=1e-12)
    assert got["log_loss"] == pytest.approx(log_loss(y, P[2], labels=range(5)), abs=1e-9)
    P, y = _regression_members()
    got = score(P[1], y, task="regression")
    assert got == {"rmse": pytest.approx(np.sqrt(mean_squared_error(y, P[1, :, 0])), abs=1e-12)}
    # a flat regression vector is accepted too
    assert score(P[1, :, 0], y, task="regression") == got


# ----------------------------------------------------------------------------- bootstrap


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_bootstrap_interval_contains_diff_and_is_ordered(kind: str) -> None:
    P, y, task = _problem(kind)
    a, b = P[3], P[1]
    result = bootstrap_diff_ci(a, b, y, task=task, n_boot=500, seed=3)
    assert set(result) == {"diff", "ci_low", "ci_high"}
    assert result["ci_low"] <= result["diff"] <= result["ci_high"]
    assert result["ci_low"] < result["ci_high"]
    metric = "accuracy" if task == "classification" else "rmse"
    expected = score(a, y, task=task)[metric] - score(b, y, task=task)[metric]
    assert result["diff"] == pytest.approx(expected, abs=1e-12)
    # a is clearly better: higher accuracy, or lower RMSE
    assert result["ci_low"] > 0 if task == "classification" else result["ci_high"] < 0
    assert bootstrap_diff_ci(a, b, y, task=task, n_boot=500, seed=3) == result


def test_bootstrap_of_identical_predictions_is_zero() -> None:
    P, y = _classification_members(3)
    result = bootstrap_diff_ci(P[0], P[0], y, task="classification", n_boot=50)
    assert result == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_bootstrap_validates_arguments() -> None:
    P, y = _regression_members()
    with pytest.raises(ValueError, match="level"):
        bootstrap_diff_ci(P[0], P[1], y, task="regression", level=95)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_diff_ci(P[0], P[1], y, task="regression", n_boot=0)
    with pytest.raises(ValueError, match="exactly 1 output"):
        bootstrap_diff_ci(P[0], np.hstack([P[1], P[1]]), y, task="regression")
    P, y = _classification_members(3)
    wider = np.hstack([P[1], np.zeros((len(y), 1))])
    with pytest.raises(ValueError, match="same shape"):
        bootstrap_diff_ci(P[0], wider, y, task="classification")
