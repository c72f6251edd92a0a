"""PyTorch nets: separable convs, BatchNorm placement, training, checkpoints, hyperparameters."""

from __future__ import annotations

import io
import math
from functools import cache
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rayboost._errors import ConfigError
from rayboost.config import Choice, Constant, DataConfig, IntUniform, LogUniform, Uniform
from rayboost.data import Scaler, TrialData, load_dataset, make_trial_data, split_dataset
from rayboost.models import (
    ACTIVATIONS,
    BN_PLACEMENTS,
    CNN,
    MLP,
    ConvUnit,
    DenseUnit,
    NetTrainer,
    SeparableConv2d,
    build_net,
    count_madds,
    count_params,
    default_params,
    metric_name,
    param_specs,
    predict_output,
    refit_net,
    resolve_space,
    target_scaling,
    validate_params,
)
from rayboost.models._params import INITS

torch.set_num_threads(2)


@cache
def _trial_data(name: str, n_train: int | None = None, n_val: int | None = None) -> TrialData:
    """Scaled train/val arrays of a bundled dataset, optionally cut to the first rows."""
    ds = load_dataset(DataConfig(dataset=name))
    split = split_dataset(ds, seed=0)
    split.train, split.val = split.train[:n_train], split.val[:n_val]
    return make_trial_data(ds, split, Scaler.fit(ds.X[split.train]))


def _digits() -> TrialData:
    return _trial_data("digits", 256, 128)


def _cnn_params(**overrides: Any) -> dict[str, Any]:
    params = default_params("cnn", "classification", 2)
    # one conv per stage and an averaged head: the net of these tests' counts
    params.update(
        filters=4, blocks=2, convs=1, head="gap", head_units=16, batch_size=64, dropout=0.0
    )
    params.update(overrides)
    return params


def _mlp_params(task: str = "classification", **overrides: Any) -> dict[str, Any]:
    params = default_params("mlp", task, 2)
    params.update(units=32, layers=2, batch_size=64, dropout=0.0)
    params.update(overrides)
    return params


def _checkpoint_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# -- separable conv ------------------------------------------------------------------------------

SHAPES = [(3, 1, 8), (3, 16, 32), (5, 8, 4), (1, 3, 3)]


@pytest.mark.parametrize("k, c_in, c_out", SHAPES)
def test_separable_conv_parameter_count(k: int, c_in: int, c_out: int) -> None:
    separable = SeparableConv2d(c_in, c_out, k, bias=False)
    standard = nn.Conv2d(c_in, c_out, k, bias=False)
    assert count_params(separable) == k * k * c_in + c_in * c_out
    assert count_params(standard) == k * k * c_in * c_out
    with_bias = SeparableConv2d(c_in, c_out, k, bias=True)
    assert count_params(with_bias) == k * k * c_in + c_in * c_out + c_out


@pytest.mark.parametrize("k, c_in, c_out", SHAPES)
def test_separable_conv_structure(k: int, c_in: int, c_out: int) -> None:
    conv = SeparableConv2d(c_in, c_out, k, bias=False)
    assert conv.depthwise.groups == c_in
    assert conv.depthwise.in_channels == conv.depthwise.out_channels == c_in
    assert conv.depthwise.kernel_size == (k, k)
    assert conv.depthwise.bias is None
    assert conv.pointwise.kernel_size == (1, 1)
    assert conv.pointwise.groups == 1
    assert (conv.pointwise.in_channels, conv.pointwise.out_channels) == (c_in, c_out)
    out = conv(torch.zeros(2, c_in, 7, 9))
    assert out.shape == (2, c_out, 7, 9)  # "same" padding


@pytest.mark.parametrize("k, c_in, c_out", SHAPES)
@pytest.mark.parametrize("h, w", [(8, 8), (5, 11)])
def test_separable_conv_madds(k: int, c_in: int, c_out: int, h: int, w: int) -> None:
    separable = SeparableConv2d(c_in, c_out, k, bias=False)
    assert count_madds(separable, (c_in, h, w)) == h * w * (k * k * c_in + c_in * c_out)
    standard = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False)
    assert count_madds(standard, (c_in, h, w)) == h * w * k * k * c_in * c_out


def test_separable_conv_matches_explicit_computation() -> None:
    torch.manual_seed(0)
    conv = SeparableConv2d(3, 5, 3, bias=True)
    x = torch.randn(2, 3, 6, 6)
    depth = nn.functional.conv2d(x, conv.depthwise.weight, padding=1, groups=3)
    expected = nn.functional.conv2d(depth, conv.pointwise.weight, conv.pointwise.bias)
    torch.testing.assert_close(conv(x), expected)


def test_count_madds_of_mlp_and_restores_mode() -> None:
    net = MLP((10,), 3, _mlp_params(units=7, layers=2))
    net.train()
    assert count_madds(net, (10,)) == 10 * 7 + 7 * 7 + 7 * 3
    assert net.training  # mode restored
    assert count_params(net) == sum(p.numel() for p in net.parameters())


# -- conv and dense units: BatchNorm placement and bias ------------------------------------------


def _kinds(seq: nn.Sequential) -> list[type]:
    return [type(m) for m in seq]


@pytest.mark.parametrize("conv", ["separable", "standard"])
@pytest.mark.parametrize("bn", BN_PLACEMENTS)
def test_conv_unit_order_and_bias(conv: str, bn: str) -> None:
    unit = ConvUnit(3, 8, 3, conv, bn, "relu")
    core_type = SeparableConv2d if conv == "separable" else nn.Conv2d
    expected = {
        "before": [core_type, nn.BatchNorm2d, nn.ReLU],
        "after": [core_type, nn.ReLU, nn.BatchNorm2d],
        "none": [core_type, nn.ReLU],
    }[bn]
    assert _kinds(unit) == expected
    assert any(isinstance(m, nn.BatchNorm2d) for m in unit.modules()) == (bn != "none")
    core = unit[0]
    last_conv = core.pointwise if conv == "separable" else core
    # the conv followed directly by BN has no bias (BN's beta replaces it)
    assert (last_conv.bias is None) == (bn == "before")
    if conv == "separable":
        assert core.depthwise.bias is None
    assert unit(torch.randn(4, 3, 6, 6)).shape == (4, 8, 6, 6)


@pytest.mark.parametrize("bn", BN_PLACEMENTS)
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_dense_unit_order_and_bias(bn: str, dropout: float) -> None:
    unit = DenseUnit(5, 6, bn, "gelu", dropout)
    expected = {
        "before": [nn.Linear, nn.BatchNorm1d, nn.GELU],
        "after": [nn.Linear, nn.GELU, nn.BatchNorm1d],
        "none": [nn.Linear, nn.GELU],
    }[bn]
    if dropout > 0:
        expected.append(nn.Dropout)
        assert unit[-1].p == dropout
    assert _kinds(unit) == expected
    assert (unit[0].bias is None) == (bn == "before")
    assert unit(torch.randn(4, 5)).shape == (4, 6)


@pytest.mark.parametrize("conv", ["separable", "standard"])
@pytest.mark.parametrize("bn", BN_PLACEMENTS)
def test_cnn_trains_for_each_bn_placement_and_conv(conv: str, bn: str) -> None:
    data = _digits()
    trainer = NetTrainer("cnn", _cnn_params(conv=conv, bn=bn, stem="same"), data, seed=0)
    batch_norms = [m for m in trainer.model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(batch_norms) == (0 if bn == "none" else 2)
    convs = [m for m in trainer.model.modules() if isinstance(m, SeparableConv2d)]
    assert len(convs) == (2 if conv == "separable" else 0)
    records = [trainer.run_epoch() for _ in range(2)]
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        assert math.isfinite(record["train_loss"]) and math.isfinite(record["val_loss"])
        assert 0.0 <= record["val_accuracy"] <= 1.0
        assert not record["diverged"]
    assert records[1]["train_loss"] < records[0]["train_loss"] * 1.5


@pytest.mark.parametrize("bn", BN_PLACEMENTS)
def test_mlp_trains_for_each_bn_placement(bn: str) -> None:
    data = _trial_data("breast_cancer")
    trainer = NetTrainer("mlp", _mlp_params(bn=bn, epochs=4), data, seed=0)
    norms = [m for m in trainer.model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(norms) == (0 if bn == "none" else 2)
    linears = [m for m in trainer.model.body.modules() if isinstance(m, nn.Linear)]
    assert all((m.bias is None) == (bn == "before") for m in linears)
    assert trainer.model.head.bias is not None
    records = [trainer.run_epoch() for _ in range(4)]  # the one-cycle schedule's 4 epochs
    assert all(math.isfinite(r["train_loss"]) for r in records)
    assert records[-1]["val_accuracy"] > 0.8  # an easy dataset: any placement learns it


@pytest.mark.parametrize("family", ["cnn", "mlp"])
def test_weight_decay_groups(family: str) -> None:
    params = _cnn_params(l2=3e-4) if family == "cnn" else _mlp_params(l2=3e-4)
    trainer = NetTrainer(family, params, _digits(), seed=0)
    decay, no_decay = trainer.optimizer.param_groups
    assert decay["weight_decay"] == 3e-4
    assert no_decay["weight_decay"] == 0.0
    decay_ids = {id(p) for p in decay["params"]}
    no_decay_ids = {id(p) for p in no_decay["params"]}
    assert not decay_ids & no_decay_ids
    assert decay_ids | no_decay_ids == {id(p) for p in trainer.model.parameters()}
    n_bn = 0
    for module in trainer.model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            assert id(module.weight) in decay_ids
            if module.bias is not None:
                assert id(module.bias) in no_decay_ids
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n_bn += 1
            assert id(module.weight) in no_decay_ids and id(module.bias) in no_decay_ids
    assert n_bn > 0  # default bn="before": there is BatchNorm to exclude
    assert any(m.bias is not None for m in trainer.model.modules() if isinstance(m, nn.Linear))


# -- activations, inits, stem --------------------------------------------------------------------


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("family", ["cnn", "mlp"])
def test_every_activation_builds(activation: str, family: str) -> None:
    torch.manual_seed(0)
    params = (
        _cnn_params(activation=activation)
        if family == "cnn"
        else _mlp_params(activation=activation)
    )
    shape = (1, 8, 8) if family == "cnn" else (30,)
    net = build_net(family, params, shape, 3)
    assert any(isinstance(m, ACTIVATIONS[activation]) for m in net.modules())
    net.eval()
    out = net(torch.randn(4, *shape))
    assert out.shape == (4, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("family", ["cnn", "mlp"])
def test_every_init_builds(init: str, family: str) -> None:
    params = (
        _cnn_params(init=init, bn="none") if family == "cnn" else _mlp_params(init=init, bn="none")
    )
    shape = (1, 8, 8) if family == "cnn" else (30,)
    torch.manual_seed(0)
    net = build_net(family, params, shape, 3)
    out = net.eval()(torch.randn(4, *shape))
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    biases = [
        m.bias
        for m in net.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None
    ]
    assert biases
    all_zero = all(torch.all(b == 0) for b in biases)
    assert all_zero == (init != "default")  # schemes zero the biases; PyTorch's default does not


def test_kaiming_normal_scale() -> None:
    torch.manual_seed(0)
    net = build_net("mlp", _mlp_params(init="kaiming_normal", units=512, layers=1), (400,), 2)
    weight = net.body[0][0].weight
    assert abs(float(weight.detach().std()) - math.sqrt(2.0 / 400)) < 0.005


def test_unknown_init_raises() -> None:
    with pytest.raises(ValueError, match="bogus"):
        build_net("mlp", _mlp_params(init="bogus"), (4,), 2)


def _first_conv(net: CNN) -> nn.Module:
    return net.features[0][0]


def test_stem_standard_overrides_separable() -> None:
    net = build_net("cnn", _cnn_params(conv="separable", stem="standard", blocks=3), (1, 8, 8), 10)
    assert isinstance(net, CNN)
    first = _first_conv(net)
    assert type(first) is nn.Conv2d and first.groups == 1
    units = [m for m in net.features if isinstance(m, ConvUnit)]
    assert len(units) == 3
    assert all(isinstance(u[0], SeparableConv2d) for u in units[1:])


def test_stem_same_keeps_separable() -> None:
    net = build_net("cnn", _cnn_params(conv="separable", stem="same"), (1, 8, 8), 10)
    assert isinstance(_first_conv(net), SeparableConv2d)
    standard = build_net("cnn", _cnn_params(conv="standard", stem="same"), (1, 8, 8), 10)
    assert type(_first_conv(standard)) is nn.Conv2d


def test_cnn_widens_and_pools() -> None:
    net = build_net("cnn", _cnn_params(filters=4, blocks=3, head_units=16), (1, 8, 8), 10)
    units = [m for m in net.features if isinstance(m, ConvUnit)]
    assert [
        u[0].out_channels if isinstance(u[0], nn.Conv2d) else u[0].pointwise.out_channels
        for u in units
    ] == [4, 8, 16]
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.features) == 3  # 8 -> 4 -> 2 -> 1
    assert net.eval()(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


# -- training: regression units, best epoch, patience, checkpoints -------------------------------


def test_regression_val_rmse_in_original_units() -> None:
    data = _trial_data("diabetes")
    trainer = NetTrainer("mlp", _mlp_params("regression", lr=1e-2), data, seed=0)
    y_mean, y_std = target_scaling("regression", data.y_train)
    assert (trainer.y_mean, trainer.y_std) == (y_mean, y_std)
    assert y_std > 10  # diabetes targets are in the tens to hundreds
    for _ in range(3):
        record = trainer.run_epoch()
    pred = predict_output(trainer.model, data.X_val, "regression", trainer.y_mean, trainer.y_std)
    assert pred.shape == (len(data.y_val), 1)
    rmse = float(np.sqrt(np.mean((pred[:, 0] - data.y_val) ** 2)))
    assert record["val_rmse"] == pytest.approx(rmse, rel=1e-5)
    assert record["val_loss"] == pytest.approx((rmse / y_std) ** 2, rel=1e-4)
    assert (
        20 < record["val_rmse"] < 2 * float(np.std(data.y_val))
    )  # original units, learned something
    assert metric_name("regression") == "rmse"


def test_target_scaling_and_metric_names() -> None:
    assert target_scaling("classification", np.array([0, 1, 1])) == (0.0, 1.0)
    mean, std = target_scaling("regression", np.array([1.0, 3.0], dtype=np.float32))
    assert (mean, std) == (2.0, 1.0)
    assert target_scaling("regression", np.array([5.0, 5.0]))[1] == 1.0  # constant target
    assert metric_name("classification") == "accuracy"


def test_huber_loss_trains() -> None:
    trainer = NetTrainer(
        "mlp", _mlp_params("regression", loss="huber"), _trial_data("diabetes"), seed=0
    )
    assert math.isfinite(trainer.run_epoch()["train_loss"])


def test_predict_output_probabilities() -> None:
    data = _digits()
    trainer = NetTrainer("cnn", _cnn_params(), data, seed=0)
    probs = predict_output(trainer.model, data.X_val, "classification")
    assert probs.shape == (len(data.y_val), 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_best_epoch_tracking() -> None:
    data = _digits()
    trainer = NetTrainer("cnn", _cnn_params(lr=1e-2), data, seed=0)
    assert trainer.best["epoch"] == 0 and trainer.best["val_pred"] is None
    accuracies = []
    for _ in range(3):
        record = trainer.run_epoch()
        accuracies.append(record["val_accuracy"])
        assert 1 <= trainer.best["epoch"] <= trainer.epoch
        assert record["best_epoch"] == trainer.best["epoch"]
    best = trainer.best
    assert best["val_pred"].shape == (len(data.y_val), 10)
    assert best["metric"] == max(accuracies)
    assert best["metric"] == accuracies[best["epoch"] - 1]
    # the stored val_pred is that epoch's prediction, from the stored weights
    fresh = build_net("cnn", trainer.params, data.input_shape, 10)
    fresh.load_state_dict(best["state"])
    np.testing.assert_allclose(
        predict_output(fresh, data.X_val, "classification"), best["val_pred"], atol=1e-6
    )


def test_patience_stops() -> None:
    # lr=0: nothing can improve. (With lr=1e-7 val_loss still falls a hair each epoch, and a lower
    # val_loss at a tied accuracy counts as an improvement, so patience would never run out.)
    data = _trial_data("breast_cancer")
    trainer = NetTrainer("mlp", _mlp_params(lr=0.0, patience=2, bn="none"), data, seed=0)
    records = [trainer.run_epoch() for _ in range(4)]
    assert [r["best_epoch"] for r in records] == [1, 1, 1, 1]
    assert [r["patience_stop"] for r in records] == [False, False, True, True]


def test_patience_not_hit_while_improving() -> None:
    data = _trial_data("breast_cancer")
    trainer = NetTrainer("mlp", _mlp_params(lr=1e-3, patience=1, bn="none"), data, seed=0)
    records = [trainer.run_epoch() for _ in range(3)]
    assert [r["best_epoch"] for r in records] == [1, 2, 3]
    assert not any(r["patience_stop"] for r in records)


def _resume_matches(params: dict[str, Any]) -> tuple[float, float]:
    data = _digits()
    uninterrupted = NetTrainer("cnn", params, data, seed=7)
    uninterrupted.run_epoch()
    state = _checkpoint_round_trip(uninterrupted.state_dict())
    expected = uninterrupted.run_epoch()
    resumed = NetTrainer("cnn", params, data, seed=7)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    assert resumed.best["epoch"] == 1
    assert isinstance(resumed.best["val_pred"], np.ndarray)
    got = resumed.run_epoch()
    assert got["epoch"] == expected["epoch"] == 2
    return got["train_loss"], expected["train_loss"]


def test_checkpoint_resume_is_identical() -> None:
    got, expected = _resume_matches(_cnn_params(bn="before", dropout=0.0))
    assert got == expected


def test_checkpoint_resume_is_identical_with_dropout() -> None:
    got, expected = _resume_matches(_cnn_params(bn="before", dropout=0.2))
    assert got == expected


def test_checkpoint_resume_with_sgd_and_l1() -> None:
    data = _trial_data("breast_cancer")
    params = _mlp_params(optimizer="sgd", l1=1e-5)
    a = NetTrainer("mlp", params, data, seed=1)
    a.run_epoch()
    state = _checkpoint_round_trip(a.state_dict())
    expected = a.run_epoch()
    b = NetTrainer("mlp", params, data, seed=1)
    b.load_state_dict(state)
    got = b.run_epoch()
    assert got["train_loss"] == expected["train_loss"]
    assert got["val_loss"] == expected["val_loss"]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes(precision: str) -> None:
    params = _cnn_params(bn="before", dropout=0.0, precision=precision)
    trainer = NetTrainer("cnn", params, _digits(), seed=3)
    with trainer._autocast():
        out = trainer.model(trainer.X_train[:4])
    assert out.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    first = trainer.run_epoch()
    assert math.isfinite(first["train_loss"])
    state = trainer.state_dict()
    assert bool(state["scaler"]) == (precision == "fp16")  # fp16 keeps its loss scale
    got, expected = _resume_matches(params)
    assert got == expected
    fp32 = NetTrainer("cnn", _cnn_params(bn="before", dropout=0.0), _digits(), seed=3).run_epoch()
    assert first["train_loss"] != fp32["train_loss"]  # autocast really changed the arithmetic
    assert first["train_loss"] == pytest.approx(fp32["train_loss"], rel=0.05)  # and learns the same


def test_precision_is_validated() -> None:
    with pytest.raises(ConfigError, match="precision: 'fp8' is not valid"):
        validate_params("cnn", "classification", 5, {"precision": "fp8"}, "")


# -- hyperparameter specs and spaces -------------------------------------------------------------


def test_param_specs_per_family_and_task() -> None:
    cnn = param_specs("cnn", "classification", 7)
    mlp = param_specs("mlp", "regression", 7)
    assert {"conv", "stem", "filters", "kernel_size", "blocks", "head_units"} <= set(cnn)
    assert "units" not in cnn
    assert {"units", "layers"} <= set(mlp) and "conv" not in mlp
    assert "label_smoothing" in cnn and "label_smoothing" not in mlp
    assert cnn["epochs"].default == 7 and cnn["epochs"].space == Constant(7)
    defaults = default_params("cnn", "classification", 7)
    assert defaults["stem"] == "standard" and defaults["conv"] == "standard"
    assert set(defaults) == set(cnn)
    with pytest.raises(ConfigError, match="model.family"):
        param_specs("rnn", "classification", 7)


def test_resolve_space_overrides() -> None:
    space = resolve_space(
        "mlp",
        "classification",
        10,
        {
            "lr": {"loguniform": [1.0e-4, 1.0e-2]},
            "bn": "after",
            "units": [16, 32],
            "layers": {"randint": [1, 4]},
            "l2": {"randint": [0, 1]},
            "dropout": 0.25,
        },
    )
    assert space["lr"] == LogUniform(1.0e-4, 1.0e-2)
    assert space["bn"] == Constant("after")
    assert space["units"] == Choice((16, 32))
    assert space["layers"] == IntUniform(1, 4)
    assert space["l2"] == Uniform(0.0, 1.0)  # randint on a float parameter becomes uniform
    assert space["dropout"] == Constant(0.25)
    # untouched parameters keep their default space
    assert space["activation"] == param_specs("mlp", "classification", 10)["activation"].space
    assert space["epochs"] == Constant(10)


def test_resolve_space_unknown_name() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_space("mlp", "classification", 10, {"filters": 8})
    message = str(info.value)
    assert "search.space.filters" in message
    assert "mlp family" in message
    assert "units" in message and "layers" in message and "lr" in message


@pytest.mark.parametrize(
    "overrides, fragments",
    [
        ({"bn": "middle"}, ["search.space.bn", "'middle'", "before, after, none"]),
        ({"activation": ["relu", "swish"]}, ["search.space.activation", "'swish'"]),
        ({"bn": {"uniform": [0, 1]}}, ["search.space.bn", "categorical"]),
        ({"dropout": {"uniform": [0.0, 0.99]}}, ["search.space.dropout", "out of range"]),
        ({"lr": {"loguniform": [1.0e-9, 1.0e-2]}}, ["search.space.lr", "out of range"]),
        ({"dropout": -0.1}, ["search.space.dropout", "out of range"]),
        ({"batch_size": {"loguniform": [16, 256]}}, ["search.space.batch_size", "integer"]),
        ({"units": {"uniform": [16, 256]}}, ["search.space.units", "integer"]),
        ({"units": [16, 32.5]}, ["search.space.units", "integer"]),
        ({"lr": "fast"}, ["search.space.lr", "number"]),
        ({"lr": {"loguniform": [0, 1]}}, ["search.space.lr", "low > 0"]),
    ],
)
def test_resolve_space_errors(overrides: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_space("mlp", "classification", 10, overrides)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_resolve_space_custom_prefix() -> None:
    with pytest.raises(ConfigError, match=r"^search\.grid\.nope:"):
        resolve_space("cnn", "classification", 10, {"nope": 1}, prefix="search.grid.")


def test_validate_params_coerces() -> None:
    out = validate_params(
        "cnn",
        "classification",
        10,
        {"lr": "1e-3", "l2": 0, "filters": 16.0, "batch_size": "64", "conv": "standard"},
        "search.manual[0].",
    )
    assert out == {"lr": 1e-3, "l2": 0.0, "filters": 16, "batch_size": 64, "conv": "standard"}
    assert type(out["lr"]) is float and type(out["l2"]) is float
    assert type(out["filters"]) is int and type(out["batch_size"]) is int


@pytest.mark.parametrize(
    "params, fragment",
    [
        ({"filters": "1e-3"}, "integer"),
        ({"filters": 2.5}, "integer"),
        ({"lr": True}, "number"),
        ({"lr": 100.0}, "out of range"),
        ({"conv": "dilated"}, "'dilated'"),
        ({"units": 8}, "cnn family"),
    ],
)
def test_validate_params_errors(params: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_params("cnn", "classification", 10, params, "search.manual[0].")
    assert str(info.value).startswith("search.manual[0]." + next(iter(params)))
    assert fragment in str(info.value)


def test_refit_net_replays_the_trial_recipe_on_the_rows_it_is_given() -> None:
    data = _digits()
    params = _cnn_params(epochs=6, schedule="onecycle")
    X = np.concatenate([data.X_train, data.X_val])
    y = np.concatenate([data.y_train, data.y_val])
    net = refit_net(
        "cnn", params, X, y, data.task, data.n_outputs, seed=3, epochs=4, schedule_epochs=6
    )
    assert net is not None and net.input_shape == data.input_shape
    # the same as a trainer on those rows stopped after 4 epochs of a 6-epoch schedule
    rows = np.arange(len(X))
    trainer = NetTrainer(
        "cnn",
        params,
        TrialData(X, y, X[:0], y[:0], data.task, data.n_outputs, rows, rows[:0]),
        seed=3,
        epochs=6,
    )
    for _ in range(4):
        trainer.train_epoch()
        trainer.epoch += 1
    want = predict_output(trainer.model, data.X_val, data.task)
    np.testing.assert_allclose(net.predict_output(data.X_val), want, rtol=1e-5, atol=1e-6)
    assert trainer.lr_at_step(4 * trainer.steps_per_epoch - 1) > trainer.lr_at_step(
        6 * trainer.steps_per_epoch - 1
    )


def test_refit_net_of_a_diverging_recipe_is_none() -> None:
    data = _trial_data("diabetes", 128, 32)
    params = _mlp_params("regression", lr=1e6, optimizer="sgd", bn="none", grad_clip=0.0)
    X, y = data.X_train, data.y_train
    assert refit_net("mlp", params, X, y, data.task, 1, seed=0, epochs=3, schedule_epochs=3) is None


def test_an_epoch_with_nan_outputs_is_never_best_and_counts_as_diverged() -> None:
    data = _trial_data("breast_cancer")
    trainer = NetTrainer("mlp", _mlp_params(bn="none", epochs=4), data, seed=0)
    first = trainer.run_epoch()
    assert math.isfinite(first["val_accuracy"]) and trainer.best["epoch"] == 1
    with torch.no_grad():  # every output NaN from here on: argmax would say class 0
        trainer.model.apply(
            lambda m: m.weight.fill_(math.nan) if isinstance(m, nn.Linear) else None
        )
    second = trainer.run_epoch()
    assert (
        math.isnan(second["val_accuracy"]) and math.isnan(second["val_loss"]) and second["diverged"]
    )
    assert trainer.best["epoch"] == 1 and second["best_epoch"] == 1
    fresh = NetTrainer("mlp", _mlp_params(bn="none", epochs=4), data, seed=0)
    with torch.no_grad():
        fresh.model.apply(lambda m: m.weight.fill_(math.nan) if isinstance(m, nn.Linear) else None)
    record = fresh.run_epoch()
    assert record["diverged"] and fresh.best["metric"] is None  # no best epoch at all
