"""A search that spends its budget where nets learn: the portfolio first, ASHA's first rung from
the epoch budget, and a time budget that starts no trial it cannot finish."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import rayboost
from rayboost.config import Choice, Constant, LogUniform, SearchConfig, load_config
from rayboost.models import portfolio, resolve_space
from rayboost.tuning import auto_max_epochs, auto_time_budget_s, grace_period, plan_search
from rayboost.tuning._budget import TrialBudget
from rayboost.tuning._space import fit_point, portfolio_points


def _search(**changes: Any) -> SearchConfig:
    return dataclasses.replace(SearchConfig(), **changes)


# -- ASHA's first rung and the time budget ---------------------------------------------------------
@pytest.mark.parametrize(
    "max_epochs, factor, given, expected",
    [
        (20, 3, None, 3),
        (30, 3, None, 4),
        (9, 3, None, 1),
        (5, 2, None, 2),
        (20, 3, 1, 1),
        (1, 3, None, 1),
    ],
)
def test_grace_period_from_the_epoch_budget(
    max_epochs: int, factor: int, given: int | None, expected: int
) -> None:
    search = _search(max_epochs=max_epochs, reduction_factor=factor, grace_period=given)
    assert grace_period(search) == expected


def test_auto_time_budget_sizes_for_the_data() -> None:
    assert auto_time_budget_s(5000, 784, 2) == pytest.approx(
        600.0
    )  # the reference: 5,000 28×28 images
    assert auto_time_budget_s(10000, 784, 2) == pytest.approx(1200.0)
    assert auto_time_budget_s(5000, 784, 4) == pytest.approx(300.0)  # twice the CPUs, half the time
    assert auto_time_budget_s(1797, 64, 2) == 60.0  # digits: the floor
    assert auto_time_budget_s(10**6, 784, 2) == 3600.0  # the ceiling


@pytest.mark.parametrize(
    "train_rows, expected",
    [(3000, 20), (1078, 56), (6000, 10), (10**6, 10), (341, 100), (1, 100)],
)
def test_auto_max_epochs_passes_the_same_rows_through_the_net(
    train_rows: int, expected: int
) -> None:
    """5,000 images split 60/20/20 keep 20 epochs; the 8×8 digits get 56; floor 10, ceiling 100."""
    assert auto_max_epochs(train_rows) == expected


def test_auto_max_epochs_is_resolved_before_the_search_and_checked_against_the_grace_period() -> (
    None
):
    from rayboost._pipeline import _resolve_max_epochs

    cfg = load_config(overrides={"data.dataset": "digits"})
    assert cfg.search.max_epochs == "auto"
    assert _resolve_max_epochs(cfg, 1078).search.max_epochs == 56
    fixed = load_config(overrides={"data.dataset": "digits", "search.max_epochs": 7})
    assert _resolve_max_epochs(fixed, 1078).search.max_epochs == 7
    late = load_config(
        overrides={"data.dataset": "digits", "search.grace_period": 30}
    )  # fine until resolved
    with pytest.raises(
        rayboost.ConfigError, match=r"grace_period \(30\) exceeds search.max_epochs \(20, from auto"
    ):
        _resolve_max_epochs(late, 3000)


def test_trial_budget_stops_starting_trials_that_would_not_finish() -> None:
    budget = TrialBudget(deadline=1000.0, max_epochs=10)
    assert budget.allows_new_trial(now=990.0)  # nothing measured yet: any time before the deadline
    assert not budget.allows_new_trial(now=1000.0)
    for i, per_epoch in enumerate([1.0, 2.0, 3.0, 4.0, 5.0]):
        budget.observe(f"t{i}", {"epoch": 2, "time_total_s": 2 * per_epoch})
    assert budget.trial_estimate_s() == pytest.approx(40.0)  # upper quartile 4 s/epoch × 10 epochs
    assert budget.allows_new_trial(now=959.0)
    assert not budget.allows_new_trial(now=961.0)
    budget.observe("t9", {"epoch": 0, "time_total_s": 0.0})  # nothing to learn from
    budget.observe("t8", {"time_total_s": 3.0})
    assert budget.trial_estimate_s() == pytest.approx(40.0)
    assert TrialBudget(deadline=None, max_epochs=10).allows_new_trial(now=1e12)


# -- the portfolio -------------------------------------------------------------------------------
def test_portfolio_starts_with_the_defaults_and_its_points_differ() -> None:
    for family in ("cnn", "mlp"):
        points = portfolio(family, "classification", 20)
        assert len(points) == 3
        assert points[0] == rayboost.models.default_params(family, "classification", 20)
        assert len({tuple(sorted(p.items())) for p in points}) == 3


@pytest.mark.parametrize("family", ["cnn", "mlp"])
def test_portfolio_lies_in_the_default_space(family: str) -> None:
    """Every portfolio point can be drawn from the default space: fitting changes nothing."""
    space = resolve_space(family, "classification", 20, {})
    for point in portfolio(family, "classification", 20):
        assert fit_point(point, space) == {name: point[name] for name in space}


def test_fit_point_moves_values_into_the_users_space() -> None:
    space = {"bn": Choice(("none", "after")), "lr": LogUniform(1e-4, 1e-3), "filters": Constant(8)}
    assert fit_point({"bn": "before", "lr": 3e-3, "filters": 32}, space) == {
        "bn": "none",
        "lr": 1e-3,
        "filters": 8,
    }
    assert fit_point({"bn": "after", "lr": 5e-4, "filters": 8}, space) == {
        "bn": "after",
        "lr": 5e-4,
        "filters": 8,
    }


def test_portfolio_points_list_only_what_the_space_varies() -> None:
    search = _search(space={"bn": ["none", "after"], "filters": 16})
    space = resolve_space("cnn", "classification", 20, search.space)
    points = portfolio_points(search, "cnn", "classification", space)
    assert len(points) == 3
    varied = {name for name, dist in space.items() if not isinstance(dist, Constant)}
    assert all(set(p) == varied for p in points)
    assert all(p["bn"] == "none" for p in points)  # "before" is not in the user's choice


@pytest.mark.parametrize(
    "num_samples, portfolio_n, expected",
    [
        (None, None, 3),
        (16, None, 3),
        (8, None, 2),
        (4, None, 1),
        (2, None, 1),
        (16, 0, 0),
        (2, 3, 2),
        (None, 2, 2),
    ],
)
def test_how_many_portfolio_points(
    num_samples: int | None, portfolio_n: int | None, expected: int
) -> None:
    search = _search(num_samples=num_samples, portfolio=portfolio_n)
    plan = plan_search(search, "cnn", "classification", seed=0, timed=True)
    assert plan.n_portfolio == expected


def test_plans_with_and_without_a_time_budget() -> None:
    timed = plan_search(_search(), "mlp", "classification", seed=0, timed=True)
    assert timed.n_trials is None and timed.num_samples == -1  # until the budget ends the search
    untimed = plan_search(_search(), "mlp", "classification", seed=0, timed=False)
    assert untimed.n_trials == untimed.num_samples == 16
    counted = plan_search(_search(num_samples=6), "mlp", "classification", seed=0, timed=True)
    assert counted.n_trials == counted.num_samples == 6


def test_wide_preset_keeps_the_lectures_space() -> None:
    default = resolve_space("cnn", "classification", 20, {})
    wide = resolve_space("cnn", "classification", 20, {}, preset="wide")
    assert default["bn"] == Choice(("before", "after")) and wide["bn"] == Choice(
        ("before", "after", "none")
    )
    assert isinstance(default["optimizer"], Constant) and set(wide["optimizer"].values) == {
        "adam",
        "adamw",
        "sgd",
    }
    with pytest.raises(rayboost.ConfigError, match="space_preset"):
        resolve_space("cnn", "classification", 20, {}, preset="huge")
    assert (
        load_config(
            overrides=["data.dataset=digits", "search.space_preset=wide"]
        ).search.space_preset
        == "wide"
    )


# -- on real Ray ---------------------------------------------------------------------------------
@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize("algorithm", ["hyperopt", "random"])
def test_portfolio_configurations_are_the_first_trials(tmp_path, algorithm: str) -> None:
    exp = rayboost.run(
        overrides=[
            f"storage={tmp_path}",
            "name=p",
            "data.dataset=digits",
            f"search.algorithm={algorithm}",
            "search.num_samples=4",
            "search.portfolio=2",
            "search.max_epochs=1",
            "search.scheduler=fifo",
            "search.max_concurrent_trials=1",
            "ensemble.enabled=false",
        ],
        verbose=False,
    )
    trials = exp.trials()
    assert len(trials) == 4
    starts = [e for e in rayboost._io.read_jsonl(exp.paths.trial_events) if e["event"] == "start"]
    expected = portfolio("cnn", "classification", 1)[:2]
    for event, point in zip(starts[:2], expected, strict=True):
        assert {k: event["params"][k] for k in point} == point
    later = [{k: e["params"][k] for k in expected[0]} for e in starts[2:]]
    assert all(p not in expected for p in later)  # the search's own trials follow


@pytest.mark.usefixtures("local_ray")
def test_time_budget_keeps_starting_trials_until_it_is_spent(tmp_path) -> None:
    budget = 20.0
    exp = rayboost.run(
        overrides=[
            f"storage={tmp_path}",
            "name=b",
            "data.dataset=digits",
            f"search.time_budget_s={budget}",
            "search.max_epochs=3",
            "ensemble.enabled=false",
        ],
        verbose=False,
    )
    summary = exp.summary()
    assert summary["time_budget_s"] == budget and summary["asha_rungs"] == [1, 3]
    events = rayboost._io.read_jsonl(exp.paths.trial_events)
    starts = [e["time"] for e in events if e["event"] == "start"]
    ends = [e["time"] for e in events if e["event"] == "end"]
    assert len(starts) > 16  # no num_samples: more than the untimed default of 16 trials
    assert len(ends) == len(starts)  # every trial closed, including any the deadline stopped
    first = min(starts)
    assert max(starts) < first + budget  # none started after the deadline
    assert max(ends) < first + budget + 10  # the search ended at the deadline (10 s of slack)
    trials = exp.trials()
    assert set(trials["status"]) <= {"completed", "stopped"}
    assert not (trials["asha_stopped"] & trials["budget_stopped"]).any()
