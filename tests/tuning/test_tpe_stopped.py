"""What TPE learns from trials that ASHA stopped early (pure searcher logic, real HyperOpt)."""

from __future__ import annotations

import pytest
from ray import tune

from rayboost.tuning._space import _TPE

RESULTS = {  # trial: its last result as Tune hands it to the searcher
    "fast_starter": {"objective": 0.99, "epoch": 1, "final": False},
    "middle": {"objective": 0.97, "epoch": 3, "final": False},
    "finished": {"objective": 0.95, "epoch": 9, "final": True},
    "patience": {"objective": 0.96, "epoch": 6, "final": True},
    "diverged": {"objective": 0.0, "epoch": 2, "final": True, "diverged": True},
}


def _losses(
    stopped: str, mode: str = "max", results: dict | None = None
) -> dict[str, float | None]:
    alg = _TPE(stopped=stopped, max_epochs=9, n_initial_points=10, random_state_seed=0)
    assert alg.set_search_properties("objective", mode, {"lr": tune.loguniform(1e-4, 1e-1)})
    results = results or RESULTS
    for trial_id in results:
        assert alg.suggest(trial_id) is not None
    tids = {trial_id: alg._live_trial_mapping[trial_id][0] for trial_id in results}
    for trial_id, result in results.items():
        alg.on_trial_complete(trial_id, result=result)
    # hyperopt keeps scored trials only (an errored one drops out of the model)
    scored = {
        ho["tid"]: ho["result"]["loss"]
        for ho in alg._hpopt_trials.trials
        if ho["result"].get("status") == "ok"
    }
    out = {trial_id: scored.get(tid) for trial_id, tid in tids.items()}
    return out


def test_rung_ranks_by_progress_then_score():
    loss = _losses("rung")
    order = sorted(loss, key=lambda t: loss[t])  # hyperopt minimises: best first
    assert order == ["patience", "finished", "middle", "fast_starter", "diverged"]


def test_best_takes_the_score_so_far_and_ignore_leaves_stopped_trials_out():
    best = _losses("best")
    assert best["fast_starter"] == pytest.approx(-0.99) and best["finished"] == pytest.approx(-0.95)
    ignored = _losses("ignore")
    assert ignored["fast_starter"] is None and ignored["middle"] is None
    assert ignored["finished"] == pytest.approx(-0.95)


def test_rung_orders_rmse_for_min_mode():
    results = {
        "stopped_low": {"objective": 10.0, "epoch": 1, "final": False},
        "done_high": {"objective": 50.0, "epoch": 9, "final": True},
        "done_low": {"objective": 40.0, "epoch": 9, "final": True},
        "unscored": {"objective": 1e30, "epoch": 3, "final": False},
    }
    loss = _losses("rung", "min", results)
    assert sorted(loss, key=lambda t: loss[t]) == [
        "done_low",
        "done_high",
        "unscored",
        "stopped_low",
    ]
