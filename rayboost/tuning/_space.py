"""From rayboost's search settings to a Ray Tune ``param_space`` and search algorithm."""

from __future__ import annotations

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
from rayboost.models import default_params, resolve_space, validate_params

__all__ = ["SearchPlan", "plan_search"]

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
    num_samples: int
    n_trials: int  # trials this plan will run
    task: str


def plan_search(search: SearchConfig, family: str, task: str, seed: int) -> SearchPlan:
    """Validate the user's space/grid/manual points and build what ``TuneConfig`` needs."""
    space = resolve_space(family, task, search.max_epochs, search.space)
    if search.algorithm in ("hyperopt", "random"):
        param_space = {name: to_tune(dist) for name, dist in space.items()}
        if search.algorithm == "random":
            alg: Any = BasicVariantGenerator(random_state=seed)
        else:
            n_initial = search.n_initial_points or max(2, search.num_samples // 4)
            alg = HyperOptSearch(n_initial_points=n_initial, random_state_seed=seed)
        return SearchPlan(param_space, alg, search.num_samples, search.num_samples, task)

    # grid and manual: unlisted hyperparameters take their defaults, unless search.space sets them
    base = default_params(family, task, search.max_epochs)
    base.update({name: to_tune(space[name]) for name in search.space})
    if search.algorithm == "grid":
        grid = search.grid or {k: v for k, v in DEFAULT_GRID.items() if k in base}
        n_trials = 1
        for name, values in grid.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"search.grid.{name}: expected a non-empty list of values")
            checked = [validate_params(family, task, search.max_epochs, {name: v}, "search.grid.")[name] for v in values]
            base[name] = tune.grid_search(checked)
            n_trials *= len(checked)
        return SearchPlan(base, BasicVariantGenerator(random_state=seed), 1, n_trials, task)

    points = [
        validate_params(family, task, search.max_epochs, point, f"search.manual[{i}].")
        for i, point in enumerate(search.manual)
    ]
    alg = BasicVariantGenerator(points_to_evaluate=points, random_state=seed)
    return SearchPlan(base, alg, len(points), len(points), task)
