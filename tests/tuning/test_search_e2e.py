"""Real Ray Tune runs on tiny budgets: every search algorithm, both schedulers, real torch."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rayboost
from rayboost.config import config_from_dict
from rayboost.data import Split, load_dataset

pytestmark = pytest.mark.usefixtures("local_ray")


def _run(tmp_path, *overrides: str, name: str = "exp"):
    return rayboost.run(
        overrides=[f"storage={tmp_path}", f"name={name}", "search.max_epochs=3", *overrides],
        verbose=False,
    )


def test_hyperopt_asha_on_digits(tmp_path):
    exp = _run(tmp_path, "data.dataset=digits", "search.num_samples=4")
    trials = exp.trials()
    assert len(trials) == 4
    assert set(trials["status"]) <= {"completed", "stopped"}
    assert (trials["epochs"] >= 1).all() and (trials["epochs"] <= 3).all()
    assert trials["n_params"].gt(0).all() and trials["madds"].gt(0).all()
    summary = exp.summary()
    assert summary["best_trial_id"] in set(trials["trial_id"])
    assert summary["best_val_accuracy"] == pytest.approx(trials["best_val_accuracy"].max())
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    # every kept trial, finished or stopped by ASHA, has its best epoch's weights and
    # validation predictions: the saved predictions score what its records call best
    dataset = load_dataset(config_from_dict(exp.config).data)
    y_val = dataset.y[Split.load(exp.paths.split).val]
    for trial_id, best in zip(trials["trial_id"], trials["best_val_accuracy"], strict=True):
        assert exp.paths.trial_model(trial_id).exists()
        pred = np.load(exp.paths.trial_val_pred(trial_id))
        assert pred.shape == (summary["split_sizes"]["val"], 10)
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, atol=1e-5)
        assert np.mean(pred.argmax(axis=1) == y_val) == pytest.approx(best)


def test_grid_covers_every_bn_placement_and_conv_kind(tmp_path):
    exp = _run(
        tmp_path,
        "data.dataset=digits",
        "search.algorithm=grid",
        "search.scheduler=fifo",
        "search.max_epochs=1",
        "search.grid={bn: [before, after, none], conv: [separable, standard]}",
        "search.space={stem: same}",
    )
    trials = exp.trials()
    combos = set(zip(trials["param_bn"], trials["param_conv"], strict=True))
    assert combos == {
        (b, c) for b in ("before", "after", "none") for c in ("separable", "standard")
    }
    assert (trials["status"] == "completed").all()
    assert trials["best_val_accuracy"].notna().all()
    # separable blocks have fewer parameters than standard ones at the same settings
    by = trials.set_index(["param_bn", "param_conv"])["n_params"]
    assert by[("before", "separable")] < by[("before", "standard")]


def test_manual_points_run_as_given_and_fifo_runs_all_epochs(tmp_path):
    points = "[{lr: 0.01, bn: after, filters: 8}, {lr: 0.001, bn: none, optimizer: sgd}]"
    exp = _run(
        tmp_path,
        "data.dataset=digits",
        "search.algorithm=manual",
        "search.scheduler=fifo",
        f"search.manual={points}",
        "search.space={patience: 100}",
    )
    trials = exp.trials().sort_values("param_lr", ascending=False)
    assert trials["param_lr"].tolist() == [0.01, 0.001]
    assert trials["param_bn"].tolist() == ["after", "none"]
    assert trials["param_filters"].tolist() == [8, 32]  # unlisted values keep their defaults
    assert trials["param_optimizer"].tolist() == ["adamw", "sgd"]
    assert (trials["epochs"] == 3).all() and (trials["status"] == "completed").all()
    assert not trials["asha_stopped"].any()
    epochs = exp.epochs()
    assert len(epochs) == 6 and not epochs.duplicated(["trial_id", "epoch"]).any()


def test_asha_stops_hopeless_trials(tmp_path):
    # One trial that learns, then three that cannot (lr 1e-7): ASHA must cut those at a rung.
    points = "[{lr: 0.01, conv: standard}, {lr: 1.0e-7}, {lr: 1.0e-7, bn: none}, {lr: 1.0e-7, filters: 8}]"
    exp = _run(
        tmp_path,
        "data.dataset=digits",
        "search.algorithm=manual",
        f"search.manual={points}",
        "search.max_epochs=9",
        "search.max_concurrent_trials=1",
        "search.space={patience: 100}",
    )
    trials = exp.trials()
    good = trials[trials["param_lr"] == 0.01].iloc[0]
    bad = trials[trials["param_lr"] < 1e-6]
    assert good["epochs"] == 9 and good["status"] == "completed" and not good["asha_stopped"]
    # one trial at a time (the limit holds for manual points too), so the good trial's rungs are
    # recorded before any hopeless trial reaches them: ASHA cuts all three
    spans = sorted(_span(exp, trial_id) for trial_id in trials["trial_id"])
    assert all(
        end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False)
    )
    assert (
        bad["asha_stopped"].all()
        and (bad["status"] == "stopped").all()
        and (bad["epochs"] < 9).all()
    )
    assert exp.epochs().groupby("trial_id")["epoch"].max().sum() < 4 * 9


def _span(exp, trial_id: str) -> tuple[float, float]:
    """Wall-clock start and end of a trial's epochs, from its raw epoch records."""
    records = [
        json.loads(line) for line in exp.paths.trial_epochs(trial_id).read_text().splitlines()
    ]
    return min(r["time"] - r["epoch_time_s"] for r in records), max(r["time"] for r in records)


def test_random_search_tabular_regression(tmp_path):
    exp = _run(tmp_path, "data.dataset=diabetes", "search.algorithm=random", "search.num_samples=3")
    trials = exp.trials()
    assert "best_val_rmse" in trials and "param_units" in trials and "param_conv" not in trials
    summary = exp.summary()
    assert summary["metric"] == "rmse" and summary["family"] == "mlp"
    assert summary["best_val_rmse"] == pytest.approx(trials["best_val_rmse"].min())
    assert 20 < summary["test"]["rmse"] < 200  # diabetes targets span 25..346


def test_test_split_never_reaches_a_trial(tmp_path, monkeypatch):
    from rayboost.tuning import _tune

    seen = {}
    real = _tune.tune.with_parameters

    def spy(trainable, **kwargs):
        seen.update(kwargs)
        return real(trainable, **kwargs)

    monkeypatch.setattr(_tune.tune, "with_parameters", spy)
    exp = _run(
        tmp_path, "data.dataset=breast_cancer", "search.algorithm=random", "search.num_samples=2"
    )
    import ray

    data = ray.get(seen["data"])  # one object-store copy, shared with the ensemble's Ray tasks
    split = Split.load(exp.paths.split)
    test_rows = set(split.test.tolist())
    assert test_rows.isdisjoint(data.train_rows.tolist())
    assert test_rows.isdisjoint(data.val_rows.tolist())
    assert len(data.X_train) + len(data.X_val) == len(split.train) + len(split.val)
    assert not any("test" in field for field in vars(data))
    # the split on disk is the one the trials used, and proves which rows were test
    record = json.loads(exp.paths.split.read_text())
    assert sorted(record["train"] + record["val"] + record["test"]) == list(range(569))


def test_existing_experiment_is_never_overwritten(tmp_path):
    _run(tmp_path, "data.dataset=breast_cancer", "search.algorithm=random", "search.num_samples=1")
    before = (tmp_path / "exp" / "summary.json").read_text()
    with pytest.raises(rayboost.ExperimentError, match="already exists"):
        _run(
            tmp_path,
            "data.dataset=breast_cancer",
            "search.algorithm=random",
            "search.num_samples=1",
        )
    assert (tmp_path / "exp" / "summary.json").read_text() == before


def test_unsatisfiable_resources_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(rayboost.ResourceError, match="cpus_per_trial"):
        _run(tmp_path, "data.dataset=digits", "resources.cpus_per_trial=64")
    with pytest.raises(rayboost.ResourceError, match="no node has a GPU"):
        _run(tmp_path, "data.dataset=digits", "resources.gpus_per_trial=0.5")
    assert not (tmp_path / "exp").exists()


def test_resource_check_counts_nodes_an_autoscaler_may_start():
    from rayboost.config import ResourcesConfig
    from rayboost.tuning import ClusterShape, check_resources

    head_only = ClusterShape([4.0], [0.0])
    with pytest.raises(rayboost.ResourceError, match="no node has a GPU"):
        check_resources(ResourcesConfig(cpus_per_trial=1, gpus_per_trial=0.5), head_only)
    autoscaling = ClusterShape([4.0], [0.0], scalable=[(8.0, 1.0, 4)])
    # 0.5 GPU per trial: each GPU worker holds 2 trials, up to 4 workers
    assert check_resources(ResourcesConfig(cpus_per_trial=1, gpus_per_trial=0.5), autoscaling) == 8
    assert check_resources(ResourcesConfig(cpus_per_trial=2), autoscaling) == 2 + 4 * 4
    with pytest.raises(rayboost.ResourceError, match="largest node has 8 CPUs"):
        check_resources(ResourcesConfig(cpus_per_trial=16), autoscaling)


def test_objective_is_a_number_before_any_finite_score():
    """A first epoch that diverged leaves no best score: ASHA and TPE still get a (worst) number."""
    from types import SimpleNamespace

    from rayboost.tuning._trainable import _objective

    assert _objective(SimpleNamespace(best={"metric": None}, task="regression")) == 1e30
    assert _objective(SimpleNamespace(best={"metric": None}, task="classification")) == 0.0
    assert _objective(SimpleNamespace(best={"metric": 0.93}, task="classification")) == 0.93
