"""The time budget of a search: start no trial that would not finish before the deadline.

Tune's own ``time_budget_s`` stops every running trial at the deadline; a trial started shortly
before it only wastes its slot, and one of a one-cycle or cosine schedule stopped half-way has
not annealed. :class:`TrialBudget` estimates what a new trial costs from the epochs run so far
and tells the search algorithm when to stop starting trials; the ones running then finish.
"""

from __future__ import annotations

import time
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher

__all__ = ["BudgetLimiter", "TrialBudget"]


class TrialBudget:
    """Whether a new trial of up to ``max_epochs`` epochs fits before ``deadline`` (time.time()).

    A new trial is estimated to take ``max_epochs`` times the upper quartile of the seconds
    per epoch of the trials seen so far (ASHA may stop it earlier; one that it promotes should
    be able to finish, and wider nets are slower). Before any epoch has been seen every trial
    fits while the deadline is ahead.
    """

    def __init__(self, deadline: float | None, max_epochs: int) -> None:
        self.deadline = deadline
        self.max_epochs = max_epochs
        self._seconds_per_epoch: dict[str, float] = {}

    def observe(self, trial_id: str, result: dict[str, Any]) -> None:
        epoch, seconds = result.get("epoch"), result.get("time_total_s")
        if isinstance(epoch, int) and epoch > 0 and isinstance(seconds, (int, float)):
            self._seconds_per_epoch[trial_id] = float(seconds) / epoch

    def trial_estimate_s(self) -> float | None:
        if not self._seconds_per_epoch:
            return None
        seconds = sorted(self._seconds_per_epoch.values())
        upper_quartile = seconds[(3 * (len(seconds) - 1)) // 4] if len(seconds) > 1 else seconds[0]
        return upper_quartile * self.max_epochs

    def allows_new_trial(self, now: float | None = None) -> bool:
        if self.deadline is None:
            return True
        now = time.time() if now is None else now
        return now + (self.trial_estimate_s() or 0.0) < self.deadline


class BudgetLimiter(ConcurrencyLimiter):
    """A searcher's concurrency limit and time budget: once a new trial would not finish in the
    budget, the search is over (the running trials finish)."""

    def __init__(self, searcher: Searcher, max_concurrent: int, budget: TrialBudget) -> None:
        super().__init__(searcher, max_concurrent=max_concurrent)
        self.budget = budget

    def suggest(self, trial_id: str) -> dict | None:
        if not self.budget.allows_new_trial():
            return Searcher.FINISHED
        return super().suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.budget.observe(trial_id, result)
        super().on_trial_result(trial_id, result)
