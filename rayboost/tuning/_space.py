"""From rayboost's search settings to a Ray Tune ``param_space`` and search algorithm."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ray import tune
from ray.tune.search import BasicVariantGenerator, Searcher
from ray.tune.search.hyperopt import HyperOptSearch

from rayboost._errors import ConfigError
from rayboost.config import (
    Choice,
    Constant,
    Dist,
    IntUniform,
    LogUniform,
    SearchConfig,
    Uniform,
)
from rayboost.models import default_params, portfolio, resolve_space, validate_params
from rayboost.tuning._budget import TrialBudget

__all__ = [
    "SearchPlan",
    "Variants",
    "auto_max_epochs",
    "auto_time_budget_s",
    "fit_point",
    "grace_period",
    "plan_search",
    "portfolio_points",
]

UNBOUNDED_TRIALS = 16
"""Trials of a hyperopt/random search with neither ``num_samples`` nor a time budget."""
PORTFOLIO_MAX = 3
TIMED_RANDOM_START = 5


class _TPE(HyperOptSearch):
    """HyperOpt's TPE, told deliberately about trials that ASHA stopped early.

    TPE ranks finished trials by their score and models the best quarter. A trial ASHA stopped
    after a few epochs reports a score from those few epochs (its best so far), so a config
    that learns fast but ends poorly looks as good as one that finished. ``stopped`` decides:

    - ``rung``: rank trials first by how far they got (ASHA's own verdict: a trial it stopped
      at an earlier rung lost to those it promoted), then by score. A trial that finished by
      itself (all epochs, patience or diverged-last) counts as having gone all the way,
      except a diverged one, which ranks last.
    - ``best``: the best score so far, as if the trial had finished.
    - ``ignore``: TPE does not learn from stopped trials at all.
    """

    def __init__(self, *, stopped: str, max_epochs: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._stopped = stopped
        self._max_epochs = max_epochs

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if result and not error and self._stopped != "best" and self.metric in result:
            finished = bool(result.get("final", True))
            if self._stopped == "ignore" and not finished:
                error = True  # TPE models only trials with a score it can trust
            elif self._stopped == "rung":
                result = {**result, self.metric: self._rung_score(result, finished)}
        super().on_trial_complete(trial_id, result=result, error=error)

    def _rung_score(self, result: dict[str, Any], finished: bool) -> float:
        if result.get("diverged"):
            level = 0.0
        else:
            level = float(self._max_epochs if finished else result.get("epoch", 0))
        value = float(result[self.metric])
        # the score squeezed into [0, 1), higher is better, so that it orders trials within one
        # level of progress only: accuracy (max) as it is, RMSE (min) as 1 / (1 + RMSE)
        if self.mode == "max":
            unit = min(max(value, 0.0), 1.0) / 1.001
        else:
            unit = 1.0 / (1.0 + max(value, 0.0)) / 1.001
        ranked = level + unit
        return ranked if self.mode == "max" else -ranked


class Variants(BasicVariantGenerator):
    """Tune's generator for grid, random and manual search, optionally under a time budget
    (:class:`TrialBudget`): once a new trial would not finish in it, no more trials start."""

    budget: TrialBudget | None = None

    def next_trial(self) -> Any:
        if (
            self.budget is not None
            and not self.is_finished()
            and not self.budget.allows_new_trial()
        ):
            self.set_finished()
        return super().next_trial()

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self.budget is not None:
            self.budget.observe(trial_id, result)
        super().on_trial_result(trial_id, result)


DEFAULT_GRID: dict[str, list[Any]] = {"bn": ["before", "after", "none"], "lr": [1e-3, 1e-2]}


def to_tune(dist: Dist) -> Any:
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Choice):
        return tune.choice(list(dist.values))
    if isinstance(dist, Uniform):
        return tune.uniform(dist.low, dist.high)
    if isinstance(dist, LogUniform):
        return tune.loguniform(dist.low, dist.high)
    if isinstance(dist, IntUniform):
        return tune.randint(dist.low, dist.high + 1)  # Tune's upper bound is exclusive
    raise TypeError(dist)


@dataclass
class SearchPlan:
    param_space: dict[str, Any]
    search_alg: Searcher | BasicVariantGenerator
    num_samples: int  # Tune's num_samples (-1: until the time budget ends the search)
    n_trials: int | None  # trials this plan will run; None: as many as the time budget allows
    task: str
    n_portfolio: int = 0  # the first trials: the family's known-good configurations


def grace_period(search: SearchConfig) -> int:
    """ASHA's first rung: ``search.grace_period``, or max_epochs / reduction_factor², rounded up
    (20 epochs, factor 3: rungs at 3 and 9), where learning curves have separated."""
    if search.grace_period is not None:
        return search.grace_period
    return max(1, math.ceil(search.max_epochs / search.reduction_factor**2))


EPOCH_ROWS = 60_000
EPOCH_RANGE = (10, 100)


def auto_max_epochs(train_rows: int) -> int:
    """The epoch budget ``auto`` gives a trial: as many epochs as pass 60,000 rows through the
    net (20 for 3,000 training rows, e.g. 5,000 images split 60/20/20), between 10 and 100.
    A net needs a number of optimizer steps more than a number of epochs; small data needs
    more passes to take them."""
    low, high = EPOCH_RANGE
    return int(min(max(round(EPOCH_ROWS / max(train_rows, 1)), low), high))


REFERENCE_BUDGET = (600.0, 5000 * 784, 2)  # seconds for (rows × features) on CPUs
BUDGET_RANGE = (60.0, 3600.0)


def auto_time_budget_s(rows: int, features: int, cpus: float) -> float:
    """The time budget ``auto`` gives: 600 s for 5,000 28×28 images on 2 CPUs, in proportion to
    rows × features and inversely to the cluster's CPUs, between 60 s and 1 h."""
    seconds, work, reference_cpus = REFERENCE_BUDGET
    budget = seconds * (rows * features / work) * (reference_cpus / max(cpus, 1.0))
    return float(min(max(budget, BUDGET_RANGE[0]), BUDGET_RANGE[1]))


def fit_point(point: dict[str, Any], space: dict[str, Dist]) -> dict[str, Any]:
    """``point`` moved into ``space``: a value the space cannot draw is replaced by the nearest
    value it can (a constant's value, the first of a choice, a bound of a range)."""
    fitted = {}
    for name, dist in space.items():
        value = point.get(name)
        if isinstance(dist, Constant):
            value = dist.value
        elif isinstance(dist, Choice):
            value = value if value in dist.values else dist.values[0]
        elif isinstance(dist, IntUniform):
            value = int(
                min(max(int(value) if value is not None else dist.low, dist.low), dist.high)
            )
        elif isinstance(dist, (Uniform, LogUniform)):
            value = float(
                min(max(float(value) if value is not None else dist.low, dist.low), dist.high)
            )
        fitted[name] = value
    return fitted


def portfolio_points(
    search: SearchConfig, family: str, task: str, space: dict[str, Dist]
) -> list[dict[str, Any]]:
    """The first trials of a hyperopt/random search: the family's portfolio fitted into
    ``space``, duplicates dropped, ``search.portfolio`` of them (default 3, or a quarter of
    ``num_samples``, at least 1). Only the hyperparameters the space varies are listed: HyperOpt
    takes points of exactly those."""
    count = search.portfolio
    if count is None:
        count = (
            PORTFOLIO_MAX
            if search.num_samples is None
            else min(PORTFOLIO_MAX, max(1, search.num_samples // 4))
        )
    if search.num_samples is not None:
        count = min(count, search.num_samples)
    points: list[dict[str, Any]] = []
    for point in portfolio(family, task, search.max_epochs):
        fitted = fit_point(point, space)
        varied = {
            name: fitted[name] for name, dist in space.items() if not isinstance(dist, Constant)
        }
        if varied not in points:
            points.append(varied)
    return points[:count]


def plan_search(
    search: SearchConfig, family: str, task: str, seed: int, timed: bool = False
) -> SearchPlan:
    """Validate the user's space/grid/manual points and build what ``TuneConfig`` needs.

    ``timed``: the search has a time budget, so hyperopt/random without ``num_samples`` run
    until it ends (otherwise 16 trials).
    """
    space = resolve_space(family, task, search.max_epochs, search.space, preset=search.space_preset)
    if search.algorithm in ("hyperopt", "random"):
        param_space = {name: to_tune(dist) for name, dist in space.items()}
        points = portfolio_points(search, family, task, space)
        n_trials = (
            search.num_samples if search.num_samples is not None or timed else UNBOUNDED_TRIALS
        )
        num_samples = -1 if n_trials is None else n_trials
        if search.algorithm == "random":
            alg: Any = Variants(points_to_evaluate=points or None, random_state=seed)
        else:
            # HyperOpt's random start counts the portfolio's trials: the guided search begins
            # after a quarter of the budget (at least 2; 5 for a timed search) of random ones more
            random_start = max(2, n_trials // 4) if n_trials is not None else TIMED_RANDOM_START
            n_initial = search.n_initial_points or len(points) + random_start
            alg = _TPE(
                stopped=search.stopped_trials,
                max_epochs=search.max_epochs,
                n_initial_points=n_initial,
                random_state_seed=seed,
                points_to_evaluate=points or None,
            )
        return SearchPlan(param_space, alg, num_samples, n_trials, task, n_portfolio=len(points))

    # grid and manual: unlisted hyperparameters take their defaults, unless search.space sets them
    base = default_params(family, task, search.max_epochs)
    base.update({name: to_tune(space[name]) for name in search.space})
    if search.algorithm == "grid":
        grid = search.grid or {k: v for k, v in DEFAULT_GRID.items() if k in base}
        n_grid = 1
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"search.grid.{name}: expected a non-empty list of values")
            checked = [
                validate_params(family, task, search.max_epochs, {name: v}, "search.grid.")[name]
                for v in values
            ]
            base[name] = tune.grid_search(checked)
            n_grid *= len(checked)
        return SearchPlan(base, Variants(random_state=seed), 1, n_grid, task)

    points = [
        validate_params(family, task, search.max_epochs, point, f"search.manual[{i}].")
        for i, point in enumerate(search.manual)
    ]
    alg = Variants(points_to_evaluate=points, random_state=seed)
    return SearchPlan(base, alg, len(points), len(points), task)
