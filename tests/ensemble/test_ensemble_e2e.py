"""The ensemble step on real Ray, torch, XGBoost and scikit-learn, for every task."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

import rayboost
from rayboost._pipeline import reweight
from rayboost.config import DataConfig
from rayboost.data import Scaler, Split, load_dataset
from rayboost.ensemble import score
from rayboost.models import MEMBER_KINDS

pytestmark = pytest.mark.usefixtures("local_ray")

MEMBER_COLUMNS = {"member", "kind", "trial_id", "weight", "temperature", "refit"}


@pytest.fixture(scope="module", params=["digits", "breast_cancer", "diabetes"])
def experiment(request, tmp_path_factory, local_ray):
    storage = tmp_path_factory.mktemp(request.param)
    exp = rayboost.run(
        overrides=[
            f"storage={storage}",
            "name=ens",
            f"data.dataset={request.param}",
            "search.num_samples=3",
            "search.max_epochs=4",
            "ensemble.top_k=2",
            "ensemble.xgboost_trials=4",
        ],
        verbose=False,
    )
    return exp, request.param


def test_xgboost_member_is_the_best_configuration_its_search_tried(experiment):
    exp, name = experiment
    tried = exp.xgboost_trials()
    key = "val_rmse" if name == "diabetes" else "val_log_loss"
    assert 1 <= len(tried) <= 4 and tried["chosen"].sum() == 1
    assert tried["config"].tolist() == list(range(1, len(tried) + 1))
    chosen = tried[tried["chosen"]].iloc[0]
    assert chosen[key] == tried[key].min()
    val_pred = np.load(exp.paths.member_dir("xgboost") / "val_pred.npy")
    _, split = _test_rows(exp)
    y_val = load_dataset(DataConfig(dataset=name)).y[split.val]
    got = (
        float(np.sqrt(np.mean((val_pred[:, 0] - y_val) ** 2)))
        if name == "diabetes"
        else float(-np.mean(np.log(np.clip(val_pred[np.arange(len(y_val)), y_val], 1e-15, 1))))
    )
    assert got == pytest.approx(chosen[key])
    info = exp.summary()["ensemble"]["members_info"]["xgboost"]
    assert info["search_configs"] == len(tried) and info["search_chosen"] == chosen["config"]


def test_member_files_from_another_fit_are_refused_not_mixed_with_the_weights(experiment, tmp_path):
    import shutil

    from rayboost.ensemble import save_member

    exp, _ = experiment
    copy = tmp_path / "store"
    shutil.copytree(exp.paths.root, copy / "ens")
    stored = rayboost.load("ens", copy)
    stored.ensemble()  # as saved: consistent
    record = json.loads(stored.paths.ensemble.read_text())
    target = next(e for e in record["members"] if e["weight"] > 0)
    folder = stored.paths.member_dir(target["member"])
    model = MEMBER_KINDS[target["kind"]].load(folder)
    # what an ensemble stage stopped half-way leaves: the member rewritten, ensemble.json not yet
    save_member(folder, model, np.load(folder / "val_pred.npy") * 0.5)
    with pytest.raises(rayboost.ExperimentError, match="not the ones its ensemble was fit with"):
        stored.ensemble()


def _test_rows(exp):
    dataset = load_dataset(DataConfig(dataset=exp.meta["dataset"]))
    split = Split.load(exp.paths.split)
    return dataset, split


def test_members_table(experiment):
    exp, name = experiment
    members = exp.members()
    metrics = {"accuracy", "log_loss"} if name != "diabetes" else {"rmse"}
    expected = MEMBER_COLUMNS | {
        f"{p}_{m}" for p in ("val", "cv", "test", "refit_test") for m in metrics
    }
    assert set(members.columns) == expected
    assert members["member"].tolist() == ["net_1", "net_2", "xgboost", "linear", "ensemble"]
    assert members["kind"].tolist() == ["net", "net", "xgboost", "linear", "ensemble"]
    nets = members[members.kind == "net"]
    assert nets["trial_id"].notna().all() and nets["trial_id"].is_unique  # distinct trials
    weights = members.loc[members.kind != "ensemble", "weight"]
    assert (weights >= 0).all() and weights.sum() == pytest.approx(1.0)
    summary = exp.summary()["ensemble"]
    metric = "accuracy" if name != "diabetes" else "rmse"
    assert summary["method"] == "bagged" and summary["calibrated"] == (name != "diabetes")
    temperatures = members.loc[members.kind != "ensemble", "temperature"]
    assert temperatures.isna().all() if name == "diabetes" else (temperatures > 0).all()
    assert summary[f"ensemble_cv_{metric}"] == pytest.approx(members.iloc[-1][f"cv_{metric}"])
    # members with weight were refit on train + validation; the ensemble handed back uses those
    used = members[(members.kind != "ensemble") & (members.weight > 0)]
    assert (
        used["refit"].all()
        and members.loc[members.weight == 0, "refit_test_" + metric].isna().all()
    )
    assert summary["refit"] == used["member"].tolist()
    assert summary[f"ensemble_test_{metric}"] == pytest.approx(
        members.iloc[-1][f"refit_test_{metric}"]
    )
    assert summary[f"ensemble_before_refit_test_{metric}"] == pytest.approx(
        members.iloc[-1][f"test_{metric}"]
    )
    low, high = summary["ensemble_minus_best_ci"]
    assert low <= summary["ensemble_minus_best"] <= high


def test_oracle_predict_equals_weighted_average_of_members_with_stored_weights(experiment):
    exp, _ = experiment
    dataset, split = _test_rows(exp)
    X = dataset.X[split.test]
    model = exp.ensemble()
    members = exp.members().set_index("member")
    used = members[(members.kind != "ensemble") & (members.weight > 0)]
    assert [name for name, _ in model.members_] == used.index.tolist()
    np.testing.assert_array_equal(
        model.weights_, used["weight"].to_numpy()
    )  # the very weights shown
    scaler = Scaler.from_dict(json.loads(exp.paths.scaler.read_text()))
    outputs = []
    for name, row in used.iterrows():  # each member's output at the temperature the table shows
        folder = exp.paths.member_dir(name) / (
            "refit" if row.refit else ""
        )  # the refit version where there is one
        out = MEMBER_KINDS[row.kind].load(folder).predict_output(scaler.transform(X))
        if dataset.task == "classification":
            logits = np.log(np.clip(out, 1e-15, 1.0)) / row.temperature
            out = np.exp(logits - logits.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        outputs.append(out)
    by_hand = np.average(np.stack(outputs), axis=0, weights=used["weight"].to_numpy())
    np.testing.assert_allclose(model.predict_output(X), by_hand, rtol=1e-6, atol=1e-9)
    # the ensemble row of the table is what predict gives on the test rows
    got = score(model.predict_output(X), dataset.y[split.test], task=dataset.task)
    key = "accuracy" if dataset.task == "classification" else "rmse"
    assert got[key] == pytest.approx(members.loc["ensemble", f"refit_test_{key}"])
    if dataset.task == "classification":
        assert set(model.predict(X)) <= set(dataset.classes)
        np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, atol=1e-6)


def test_refit_members_are_trained_on_exactly_the_train_and_validation_rows(experiment):
    exp, _ = experiment
    split = json.loads(exp.paths.split.read_text())
    rows = np.array(sorted(split["train"] + split["val"]), dtype=np.int64)
    assert not set(rows) & set(split["test"])
    members = exp.members().set_index("member")
    refit = members[(members.kind != "ensemble") & members.refit]
    assert len(refit) >= 1
    for name, row in refit.iterrows():
        record = json.loads((exp.paths.member_dir(name) / "refit" / "refit.json").read_text())
        assert record["rows"] == len(rows)
        assert record["rows_sha256"] == hashlib.sha256(rows.tobytes()).hexdigest()
        if row.kind == "net":  # the trial's best epoch, of the schedule it trained with
            trial = exp.trials().set_index("trial_id").loc[row.trial_id]
            assert record["epochs"] == trial["best_epoch"] and record["schedule_epochs"] == 4
        first = MEMBER_KINDS[row.kind].load(exp.paths.member_dir(name))
        again = MEMBER_KINDS[row.kind].load(exp.paths.member_dir(name) / "refit")
        dataset, _ = _test_rows(exp)
        scaler = Scaler.from_dict(json.loads(exp.paths.scaler.read_text()))
        X = scaler.transform(dataset.X[rows[:50]])
        assert not np.allclose(first.predict_output(X), again.predict_output(X))  # a new fit


def test_saved_in_safe_formats(experiment):
    exp, _ = experiment
    files = [p for p in exp.paths.member_dir("x").parent.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".pt", ".json", ".ubj", ".npy"}
    for path in files:
        if path.suffix == ".pt":
            torch.load(path, weights_only=True)  # refuses pickled code


def test_zero_weight_members_are_never_loaded(experiment):
    exp, _ = experiment
    reweight(exp.name, exp.paths.root.parent, "weights", {"net_1": 1.0})
    model = exp.ensemble()
    assert [name for name, _ in model.members_] == ["net_1"]
    members = exp.members().set_index("member")
    assert members.loc["net_1", "weight"] == 1.0 and members.loc["xgboost", "weight"] == 0.0
    assert members.loc["ensemble", members.columns[-1]] == pytest.approx(
        members.loc["net_1", members.columns[-1]]
    )


@pytest.mark.parametrize("method", ["optimize", "uniform", "greedy", "bagged"])
def test_reweight_without_retraining_keeps_history(experiment, method):
    exp, _ = experiment
    model_file = exp.paths.member_dir("net_1") / "model.pt"
    stamp = model_file.stat().st_mtime_ns
    before = (
        len(list(exp.paths.ensemble_history.glob("*.json")))
        if exp.paths.ensemble_history.exists()
        else 0
    )
    reweight(exp.name, exp.paths.root.parent, method)
    members = exp.members()
    assert exp.summary()["ensemble"]["method"] == method
    weights = members.loc[members.kind != "ensemble", "weight"]
    assert (weights >= 0).all() and weights.sum() == pytest.approx(1.0)
    if method == "uniform":
        assert np.allclose(weights, 1 / len(weights))
    assert model_file.stat().st_mtime_ns == stamp  # nothing retrained or rewritten
    assert len(list(exp.paths.ensemble_history.glob("*.json"))) == before + 1
