"""Calibrated members, bagged selection on a proper score and the cross-fitted estimate."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from rayboost.config import EnsembleConfig
from rayboost.ensemble import Member, fit_ensemble, fit_weights, score
from rayboost.ensemble._calibrate import TEMPERATURE_BOUNDS, apply_temperature, fit_temperature
from rayboost.ensemble._crossfit import calibrate_members, cross_fit


def _calibrated(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits and labels drawn from softmax(logits): the logits' probabilities are calibrated."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, classes))
    u = rng.random(n)[:, None]
    y = (softmax(logits, axis=1).cumsum(axis=1) < u).sum(axis=1)
    return logits, np.minimum(y, classes - 1)


@pytest.mark.parametrize("true_t", [0.5, 1.0, 2.5])
def test_calibration_recovers_a_known_temperature(true_t: float) -> None:
    logits, y = _calibrated(40_000, 4, seed=1)
    member = softmax(logits / true_t, axis=1)  # over-confident (t < 1) or under-confident (t > 1)
    fitted = fit_temperature(member, y)
    assert fitted == pytest.approx(1.0 / true_t, rel=0.05)
    fixed = apply_temperature(member, fitted)
    assert (
        score(fixed, y, task="classification")["log_loss"]
        <= score(member, y, task="classification")["log_loss"]
    )
    assert np.array_equal(fixed.argmax(1), member.argmax(1))  # the predicted class never changes


def test_temperature_stays_in_bounds_and_one_leaves_probabilities_alone() -> None:
    logits, y = _calibrated(2000, 3, seed=2)
    hopeless = softmax(-50 * logits, axis=1)  # confidently wrong: wants the largest temperature
    assert TEMPERATURE_BOUNDS[0] <= fit_temperature(hopeless, y) <= TEMPERATURE_BOUNDS[1]
    p = softmax(logits, axis=1)
    assert np.array_equal(apply_temperature(p, 1.0), p) and np.array_equal(
        apply_temperature(p, None), p
    )
    np.testing.assert_allclose(apply_temperature(p, 0.7).sum(axis=1), 1.0)


def _members(seed: int, n: int = 400, classes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Two informative members with different errors, one member of pure noise (last)."""
    rng = np.random.default_rng(seed)
    logits, y = _calibrated(n, classes, seed)
    good = [softmax(logits + rng.normal(scale=1.0, size=logits.shape), axis=1) for _ in range(2)]
    noise = rng.dirichlet(np.ones(classes), size=n)
    return np.stack([*good, noise]), y


@pytest.mark.parametrize("seed", range(5))
def test_the_default_gives_a_pure_noise_member_no_weight(seed: int) -> None:
    """Calibrated first, then weighted: uncalibrated, mixing in noise is a crude way to soften
    over-confident members, and a proper score rewards it."""
    P, y = _members(seed)
    calibrated, temperatures = calibrate_members(P, y, "classification", EnsembleConfig().calibrate)
    assert all(
        t is not None and t > 1.0 for t in temperatures[:2]
    )  # the noisy logits are over-confident
    w = fit_weights(calibrated, y, task="classification", method=EnsembleConfig().method, seed=seed)
    assert w[2] == 0.0 and w[:2].sum() == pytest.approx(1.0)


def test_cross_fitting_never_uses_a_rows_own_label() -> None:
    """Out-of-fold predictions do not move when the labels of the rows they predict change."""
    P, y = _members(0, n=200)
    _, ens = cross_fit(P, y, task="classification", method="bagged", folds=5, seed=0)
    assert ens.shape == (200, 5) and np.allclose(ens.sum(axis=1), 1.0)
    order = np.random.default_rng(0).permutation(200)
    held = np.array_split(order, 5)[0]
    y2 = y.copy()
    y2[held] = (y2[held] + 1) % 5
    _, ens2 = cross_fit(P, y2, task="classification", method="bagged", folds=5, seed=0)
    np.testing.assert_allclose(ens2[held], ens[held])


class Fixed:
    kind = "net"

    def __init__(self, out: np.ndarray) -> None:
        self.out = out

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        return self.out


def test_fit_ensemble_calibrates_each_member_and_reports_cross_fitted_scores() -> None:
    logits, y = _calibrated(1200, 3, seed=3)
    val, test = slice(0, 600), slice(600, 1200)
    sharp = softmax(3.0 * logits, axis=1)  # over-confident: its temperature is about 3
    members = [
        Member("net_1", "net", Fixed(sharp[test]), sharp[val], "t1"),
        Member(
            "linear", "linear", Fixed(softmax(logits, axis=1)[test]), softmax(logits, axis=1)[val]
        ),
    ]
    fit = fit_ensemble(members, y[val], np.zeros((600, 2)), y[test], task="classification")
    rows = {r["member"]: r for r in fit.rows}
    assert rows["net_1"]["temperature"] == pytest.approx(3.0, rel=0.2)
    assert fit.temperatures[0] == rows["net_1"]["temperature"]
    raw = score(sharp[test], y[test], task="classification")["log_loss"]
    assert rows["net_1"]["test_log_loss"] < raw  # the stored temperature is applied on test
    for name in ("net_1", "linear", "ensemble"):
        assert {"cv_accuracy", "cv_log_loss"} <= set(rows[name])
    assert fit.summary["calibrated"] and "ensemble_cv_accuracy" in fit.summary
    off = fit_ensemble(
        members, y[val], np.zeros((600, 2)), y[test], task="classification", calibrate=False
    )
    assert off.temperatures == [None, None] and not off.summary["calibrated"]


def test_a_member_right_on_every_validation_row_is_not_sharpened_without_limit() -> None:
    """Platt's targets: n right answers justify about 1/(n + 2) left for the other classes."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 300)
    p = np.full((300, 3), 0.2)
    p[np.arange(300), y] = 0.6  # right every time, modestly confident
    t = fit_temperature(p, y)
    assert TEMPERATURE_BOUNDS[0] < t < 1.0  # sharpened, but not to the bound
    sharpened = apply_temperature(p, t)[np.arange(300), y]
    assert sharpened.mean() == pytest.approx(1 - 1 / 302, abs=2e-3)
