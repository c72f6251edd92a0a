"""A trial reports to Tune at every epoch where ASHA compares trials (pure logic, real ASHA)."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import ASHAScheduler

from rayboost.config import load_config
from rayboost.tuning._tune import asha_rungs


@pytest.mark.parametrize(
    ("max_epochs", "grace", "rf"),
    [(20, 1, 3), (27, 1, 3), (15, 2, 2), (8, 1, 3), (100, 5, 4), (3, 3, 3)],
)
def test_reports_cover_every_asha_rung(max_epochs, grace, rf):
    cfg = load_config(
        None,
        [
            "data.dataset=digits",
            f"search.max_epochs={max_epochs}",
            f"search.grace_period={grace}",
            f"search.reduction_factor={rf}",
        ],
    )
    scheduler = ASHAScheduler(
        time_attr="epoch", max_t=max_epochs, grace_period=grace, reduction_factor=rf
    )
    milestones = {int(m) for bracket in scheduler._brackets for m, _ in bracket._rungs}
    ours = set(asha_rungs(cfg))
    assert milestones <= ours  # ASHA acts only at these epochs (and at max_t, a trial's end)
    assert ours <= milestones | {max_epochs}
