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

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
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
            alg = _TPE(
                stopped=search.stopped_trials,
                max_epochs=search.max_epochs,
                n_initial_points=n_initial,
                random_state_seed=seed,
            )
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
