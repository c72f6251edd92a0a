"""fit_ensemble: weights from validation predictions only; test scored after they are fixed."""

from __future__ import annotations

import numpy as np
import pytest

from rayboost import ConfigError
from rayboost.ensemble import Member, Refit, fit_ensemble


class Fixed:
    """A stand-in model whose test output is given: lets a test control every prediction."""

    kind = "net"

    def __init__(self, test_out: np.ndarray) -> None:
        self.test_out = test_out
        self.calls = 0

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        return self.test_out


def onehot(y: np.ndarray, c: int, p: float = 0.9) -> np.ndarray:
    out = np.full((len(y), c), (1 - p) / (c - 1))
    out[np.arange(len(y)), y] = p
    return out


rng = np.random.default_rng(0)
Y_VAL, Y_TEST = rng.integers(0, 3, 200), rng.integers(0, 3, 100)


def test_a_member_perfect_on_test_but_poor_on_validation_gets_no_weight():
    honest = Member("net_1", "net", Fixed(onehot(Y_TEST, 3, 0.8)), onehot(Y_VAL, 3, 0.8), "t1")
    wrong_val = (Y_VAL + 1) % 3  # it is wrong on every validation row
    cheat = Member("xgboost", "xgboost", Fixed(onehot(Y_TEST, 3, 0.99)), onehot(wrong_val, 3, 0.9))
    fit = fit_ensemble([honest, cheat], Y_VAL, np.zeros((100, 4)), Y_TEST, task="classification")
    assert fit.weights.tolist() == [1.0, 0.0]
    table = {row["member"]: row for row in fit.rows}
    assert table["xgboost"]["test_accuracy"] == 1.0  # it is still scored on test, once
    assert table["ensemble"]["test_accuracy"] == table["net_1"]["test_accuracy"]


def test_every_member_is_scored_on_test_once_and_the_ensemble_row_is_the_weighted_average():
    models = [Fixed(onehot(rng.integers(0, 3, 100), 3, p)) for p in (0.5, 0.7, 0.9)]

    def corrupt(share: float) -> np.ndarray:  # wrong on the first `share` of validation rows
        y = Y_VAL.copy()
        y[: int(share * len(y))] += 1
        return onehot(y % 3, 3)

    members = [
        Member(f"net_{i + 1}", "net", m, corrupt(s))
        for i, (m, s) in enumerate(zip(models, (0.5, 0.3, 0.1), strict=True))
    ]
    fit = fit_ensemble(
        members,
        Y_VAL,
        np.zeros((100, 4)),
        Y_TEST,
        task="classification",
        method="uniform",
        calibrate=False,
    )
    assert [m.calls for m in models] == [1, 1, 1]
    expected = np.average(np.stack([m.test_out for m in models]), axis=0, weights=fit.weights)
    acc = float((expected.argmax(1) == Y_TEST).mean())
    assert fit.rows[-1]["member"] == "ensemble" and fit.rows[-1]["test_accuracy"] == pytest.approx(
        acc
    )
    assert fit.summary["best_member"] == "net_3"  # best on validation, not on test
    low, high = fit.summary["ensemble_minus_best_ci"]
    assert low <= fit.summary["ensemble_minus_best"] <= high


@pytest.mark.parametrize("method", ["greedy", "optimize", "uniform", "weights"])
def test_regression_members_and_methods(method):
    y_val, y_test = rng.normal(size=80), rng.normal(size=40)
    members = [
        Member("net_1", "net", Fixed(y_test[:, None] + 0.3), y_val[:, None] + 0.3),
        Member("linear", "linear", Fixed(y_test[:, None] - 0.3), y_val[:, None] - 0.3),
    ]
    weights = {"net_1": 1, "linear": 1} if method == "weights" else None
    fit = fit_ensemble(
        members, y_val, np.zeros((40, 2)), y_test, task="regression", method=method, weights=weights
    )
    assert fit.weights.min() >= 0 and fit.weights.sum() == pytest.approx(1.0)
    assert {"val_rmse", "test_rmse"} <= set(fit.rows[0])
    if method != "greedy":  # greedy picks one at a time: a tie keeps the first
        assert fit.rows[-1]["test_rmse"] == pytest.approx(0.0, abs=1e-9)


def test_user_weights_name_members():
    members = [Member("net_1", "net", Fixed(onehot(Y_TEST, 3)), onehot(Y_VAL, 3))]
    with pytest.raises(ConfigError, match="unknown member 'net_9'; members are: net_1"):
        fit_ensemble(
            members,
            Y_VAL,
            np.zeros((100, 1)),
            Y_TEST,
            task="classification",
            method="weights",
            weights={"net_9": 1},
        )
    with pytest.raises(ConfigError, match="no members"):
        fit_ensemble([], Y_VAL, np.zeros((100, 1)), Y_TEST, task="classification")


def test_refit_happens_after_the_weights_and_before_the_single_test_pass():
    events: list[str] = []

    class Logged(Fixed):
        def predict_output(self, X: np.ndarray) -> np.ndarray:
            events.append("test")
            return super().predict_output(X)

    first = [Logged(onehot(Y_TEST, 3, p)) for p in (0.8, 0.6)]
    again = Logged(onehot(Y_TEST, 3, 0.95))
    members = [
        Member("net_1", "net", first[0], onehot(Y_VAL, 3, 0.8), "t1"),
        Member(
            "linear", "linear", first[1], onehot((Y_VAL + 1) % 3, 3, 0.6)
        ),  # wrong on validation: no weight
    ]
    seen = {}

    def refit(given: list[Member], w: np.ndarray) -> dict[str, Refit]:
        events.append("refit")
        seen["weights"] = w.tolist()
        return {m.name: Refit(again, {"rows": 1}) for m, x in zip(given, w, strict=True) if x > 0}

    fit = fit_ensemble(
        members, Y_VAL, np.zeros((100, 4)), Y_TEST, task="classification", refit=refit
    )
    assert events == ["refit", "test", "test", "test"]  # each model sees the test rows once, after
    assert seen["weights"] == fit.weights.tolist() == [1.0, 0.0]
    assert list(fit.refits) == ["net_1"] and fit.summary["refit"] == ["net_1"]
    table = {row["member"]: row for row in fit.rows}
    assert (
        table["net_1"]["refit"]
        and not table["linear"]["refit"]
        and "refit_test_accuracy" not in table["linear"]
    )
    assert (
        table["net_1"]["test_accuracy"] == 1.0
        and table["net_1"]["refit_test_log_loss"] < table["net_1"]["test_log_loss"]
    )
    assert fit.summary["ensemble_test_accuracy"] == table["ensemble"]["refit_test_accuracy"]
    assert fit.summary["ensemble_before_refit_test_accuracy"] == table["ensemble"]["test_accuracy"]


def test_choose_refits_fits_the_heaviest_members_into_the_time_left():
    from rayboost.tuning import RefitJob, choose_refits

    jobs = [
        RefitJob("net_1", "net", None, 30.0),
        RefitJob("net_2", "net", None, 10.0),
        RefitJob("xgboost", "xgboost", None, 4.0),
    ]
    weights = {"net_1": 0.2, "net_2": 0.5, "xgboost": 0.3}
    assert [j.name for j in choose_refits(jobs, weights, slots=1, seconds=None)] == [
        "net_2",
        "xgboost",
        "net_1",
    ]
    assert [j.name for j in choose_refits(jobs, weights, slots=1, seconds=20)] == [
        "net_2",
        "xgboost",
    ]
    assert [j.name for j in choose_refits(jobs, weights, slots=2, seconds=22)] == [
        "net_2",
        "xgboost",
    ]  # 30 s alone is too long
    assert [j.name for j in choose_refits(jobs, weights, slots=2, seconds=30)] == [
        "net_2",
        "xgboost",
        "net_1",
    ]
    assert choose_refits(jobs, weights, slots=2, seconds=0) == []
