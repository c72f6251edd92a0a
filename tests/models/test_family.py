"""The net family's stages, shortcuts and heads, and the training recipe: schedules, clipping,
augmentation. Counts are checked against formulas written out by hand."""

from __future__ import annotations

import io
import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rayboost.data import TrialData
from rayboost.models import (
    CNN,
    MLP,
    NetModel,
    NetTrainer,
    build_net,
    count_madds,
    count_params,
    default_params,
    lr_at,
    shift_images,
    shift_pixels,
)
from rayboost.models import _train as train_module

torch.set_num_threads(2)


def _cnn(**overrides: Any) -> dict[str, Any]:
    params = default_params("cnn", "classification", 4)
    params.update(filters=4, head_units=8, dropout=0.0, batch_size=16)
    params.update(overrides)
    return params


def _unit(c_in: int, c_out: int, k: int, kind: str, bn: str, hw: int) -> tuple[int, int]:
    """(parameters, multiply-adds) of one conv unit on an hw-pixel map."""
    bias = c_out if bn != "before" else 0
    norm = 2 * c_out if bn != "none" else 0
    if kind == "separable":
        return k * k * c_in + c_in * c_out + bias + norm, hw * (k * k * c_in + c_in * c_out)
    return k * k * c_in * c_out + bias + norm, hw * k * k * c_in * c_out


def _expected_cnn(p: dict[str, Any], shape: tuple[int, int, int], n_out: int) -> tuple[int, int]:
    """Parameters and multiply-adds of ``CNN(shape, n_out, p)``, from the architecture's rules."""
    channels, h, w = shape
    params = madds = 0
    for i in range(p["blocks"]):
        out = min(p["filters"] * 2**i, max(p["filters"], p["max_filters"]))
        c_in = channels
        for j in range(p["convs"]):
            kind = "standard" if i == 0 and j == 0 and p["stem"] == "standard" else p["conv"]
            dp, dm = _unit(c_in, out, p["kernel_size"], kind, p["bn"], h * w)
            params, madds, c_in = params + dp, madds + dm, out
        if p["residual"] and channels != out:  # 1×1 projection shortcut
            params += channels * out + (2 * out if p["bn"] != "none" else out)
            madds += h * w * channels * out
        if min(h, w) >= 2:
            h, w = h // 2, w // 2
        channels = out
    head_in = channels if p["head"] == "gap" else channels * h * w
    units = p["head_units"]
    params += (
        head_in * units
        + (units if p["bn"] != "before" else 0)
        + (2 * units if p["bn"] != "none" else 0)
    )
    params += units * n_out + n_out
    madds += head_in * units + units * n_out
    return params, madds


CNN_CASES = [
    dict(conv=conv, stem=stem, bn=bn, residual=residual, head=head, convs=convs, blocks=blocks)
    for conv, stem, bn, residual, head, convs, blocks in itertools.product(
        ("standard", "separable"),
        ("standard", "same"),
        ("before", "after", "none"),
        (False, True),
        ("gap", "flatten"),
        (1, 2, 3),
        (1, 3),
    )
]


@pytest.mark.parametrize("case", CNN_CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_cnn_counts_match_the_formula(case: dict[str, Any]) -> None:
    params = _cnn(**case)
    net = build_net("cnn", params, (3, 12, 10), 5)
    expected_params, expected_madds = _expected_cnn(params, (3, 12, 10), 5)
    assert count_params(net) == expected_params
    assert count_madds(net, (3, 12, 10)) == expected_madds


def test_widths_double_up_to_max_filters() -> None:
    params = _cnn(filters=16, blocks=4, convs=1, max_filters=32, residual=False, head="gap")
    net = build_net("cnn", params, (1, 16, 16), 10)
    widths = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert widths == [16, 32, 32, 32]
    assert count_params(net) == _expected_cnn(params, (1, 16, 16), 10)[0]


def test_separable_stage_keeps_mobilenet_cost_ratio() -> None:
    """A separable stage costs 1/N + 1/k² of a standard one (MobileNets), shortcut and all."""
    shape = (32, 8, 8)
    costs = {}
    for conv in ("standard", "separable"):
        p = _cnn(
            conv=conv,
            stem="same",
            filters=32,
            blocks=1,
            convs=2,
            residual=True,
            bn="before",
            head="gap",
        )
        costs[conv] = count_madds(build_net("cnn", p, shape, 2).features, shape)
    assert costs["separable"] / costs["standard"] == pytest.approx(1 / 32 + 1 / 9)


def test_residual_stage_adds_its_input() -> None:
    torch.manual_seed(0)
    net = build_net(
        "cnn", _cnn(residual=True, convs=2, blocks=1, filters=3, bn="none"), (3, 6, 6), 2
    )
    stage = net.features[0]
    assert isinstance(stage.shortcut, nn.Identity)  # same width: the input itself
    x = torch.randn(2, 3, 6, 6)
    torch.testing.assert_close(stage(x), stage.units(x) + x)


def test_residual_projection_where_the_width_changes() -> None:
    net = build_net(
        "cnn", _cnn(residual=True, convs=1, blocks=2, filters=4, bn="before"), (1, 8, 8), 2
    )
    first, second = net.features[0], net.features[2]  # stage, pool, stage, pool (no dropout)
    assert isinstance(first.shortcut, nn.Sequential) and first.shortcut[0].kernel_size == (1, 1)
    assert isinstance(second.shortcut[1], nn.BatchNorm2d)


@pytest.mark.parametrize("head", ["gap", "flatten"])
def test_head_input_width(head: str) -> None:
    net = build_net("cnn", _cnn(head=head, blocks=2, filters=4, convs=1), (1, 8, 8), 3)
    dense = net.head[0][0]
    assert dense.in_features == (8 if head == "gap" else 8 * 2 * 2)  # 8 channels of 2×2


def test_params_without_new_keys_build_the_net_they_trained() -> None:
    """Experiments stored before stages existed load: one conv per stage, averaged head."""
    old = {
        "filters": 8,
        "blocks": 3,
        "conv": "separable",
        "stem": "standard",
        "kernel_size": 3,
        "bn": "before",
        "activation": "relu",
        "dropout": 0.1,
        "head_units": 16,
        "init": "default",
    }
    net = CNN((1, 8, 8), 10, old)
    keys = set(net.state_dict())
    assert "features.0.0.weight" in keys and "features.3.0.pointwise.weight" in keys
    assert [
        m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups == 1
    ] == [8, 16, 32]
    assert net.head[0][0].in_features == 32


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("bn", ["before", "after", "none"])
def test_mlp_counts_and_residual(residual: bool, bn: str) -> None:
    p = default_params("mlp", "classification", 4) | {
        "layers": 3,
        "units": 16,
        "residual": residual,
        "bn": bn,
    }
    net = build_net("mlp", p, (10,), 4)
    bias = 16 if bn != "before" else 0
    norm = 32 if bn != "none" else 0
    assert count_params(net) == (10 * 16 + bias + norm) + 2 * (16 * 16 + bias + norm) + 16 * 4 + 4
    assert count_madds(net, (10,)) == 10 * 16 + 2 * 16 * 16 + 16 * 4
    if residual:
        net.eval()
        x = torch.randn(5, 16)
        torch.testing.assert_close(net.body[1](x), x + net.body[1].unit(x))
    else:
        assert isinstance(net.body[1], nn.Sequential)


# -- training: one step of every option ------------------------------------------------------------
def _images(
    n: int = 48, shape: tuple[int, ...] = (1, 8, 8), classes: int = 3, seed: int = 0
) -> TrialData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    X = rng.normal(size=(n, *shape)).astype(np.float32)
    X[np.arange(n), 0, y, y] += 3.0  # a learnable pixel per class
    return TrialData(
        X[: n // 2],
        y[: n // 2],
        X[n // 2 :],
        y[n // 2 :],
        "classification",
        classes,
        np.arange(n // 2),
        np.arange(n // 2, n),
    )


@pytest.mark.parametrize(
    "case",
    [
        dict(residual=True, convs=2, head="gap"),
        dict(residual=True, convs=3, head="flatten", conv="separable"),
        dict(residual=False, convs=2, head="flatten", bn="none", augment="shift_flip"),
        dict(
            residual=True,
            convs=1,
            head="gap",
            bn="after",
            augment="none",
            schedule="cosine",
            grad_clip=0.0,
        ),
        dict(schedule="constant", precision="bf16"),
    ],
)
def test_every_option_trains_a_step(case: dict[str, Any]) -> None:
    trainer = NetTrainer("cnn", _cnn(**case), _images(), seed=0)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    record = trainer.run_epoch()
    assert math.isfinite(record["train_loss"])
    assert 0.0 <= record["val_accuracy"] <= 1.0
    changed = [
        not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True)
    ]
    assert all(changed)


# -- schedules -----------------------------------------------------------------------------------
def test_lr_at_shapes() -> None:
    total, peak = 101, 0.01
    one = [lr_at("onecycle", s, total, peak) for s in range(total)]
    assert one[0] == pytest.approx(peak / 25)
    assert max(one) == pytest.approx(peak) and one.index(max(one)) == 25  # the end of the warm-up
    assert one[-1] == pytest.approx(peak / 25 / 1e4)
    cos = [lr_at("cosine", s, total, peak) for s in range(total)]
    assert cos[0] < cos[4] < cos[5] == pytest.approx(peak)  # linear warm-up over 5% of the steps
    assert all(a >= b for a, b in zip(cos[5:], cos[6:], strict=False))  # then only down
    assert cos[-1] == pytest.approx(0.0, abs=1e-12)
    assert {lr_at("constant", s, total, peak) for s in range(total)} == {peak}
    with pytest.raises(ValueError):
        lr_at("step", 0, total, peak)


@pytest.mark.parametrize(
    "schedule, final", [("onecycle", 3e-3 / 25 / 1e4), ("cosine", 0.0), ("constant", 3e-3)]
)
def test_schedule_reaches_its_final_lr_at_the_last_epoch(schedule: str, final: float) -> None:
    seen: list[float] = []
    trainer = NetTrainer("cnn", _cnn(schedule=schedule, lr=3e-3, epochs=3), _images(), seed=0)
    step = trainer.optimizer.step

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(trainer.optimizer.param_groups[0]["lr"])
        return step(*args, **kwargs)

    trainer.optimizer.step = spy  # type: ignore[method-assign]
    for _ in range(3):
        trainer.run_epoch()
    assert len(seen) == 3 * trainer.steps_per_epoch == 3 * 2  # 24 rows in batches of 16
    assert seen[-1] == pytest.approx(final, abs=1e-12)
    if schedule != "constant":
        assert seen[-2] > seen[-1]


def test_stopped_trial_keeps_the_schedule_of_its_budget() -> None:
    """A trial of 10 epochs that ASHA stops after 3 was never on a 3-epoch schedule."""
    long = NetTrainer("cnn", _cnn(epochs=10), _images(), seed=0)
    for _ in range(3):
        long.run_epoch()
    spe = long.steps_per_epoch
    assert long.optimizer.param_groups[0]["lr"] == pytest.approx(
        lr_at("onecycle", 3 * spe - 1, 10 * spe, 3e-3)
    )
    assert long.optimizer.param_groups[0]["lr"] > 3e-3 / 2  # still near the peak, not annealed


def test_schedule_continues_after_a_checkpoint() -> None:
    data = _images()
    first = NetTrainer("cnn", _cnn(epochs=4, dropout=0.2), data, seed=1)
    first.run_epoch()
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)  # a copy, as a checkpoint file is
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    expected = [first.run_epoch()["train_loss"] for _ in range(3)]
    resumed = NetTrainer("cnn", _cnn(epochs=4, dropout=0.2), data, seed=1)
    resumed.load_state_dict(state)
    assert [resumed.run_epoch()["train_loss"] for _ in range(3)] == pytest.approx(expected)
    assert resumed.optimizer.param_groups[0]["lr"] == first.optimizer.param_groups[0]["lr"]


def test_gradient_clipping_bounds_the_step() -> None:
    data = _images()
    norms: list[float] = []
    trainer = NetTrainer(
        "cnn", _cnn(grad_clip=0.01, lr=1.0, schedule="constant", optimizer="sgd"), data, seed=0
    )
    step = trainer.optimizer.step

    def spy(*args: Any, **kwargs: Any) -> Any:
        grads = [p.grad.norm() for p in trainer.model.parameters() if p.grad is not None]
        norms.append(float(torch.linalg.vector_norm(torch.stack(grads))))
        return step(*args, **kwargs)

    trainer.optimizer.step = spy  # type: ignore[method-assign]
    trainer.run_epoch()
    assert norms and max(norms) <= 0.01 * (1 + 1e-4)


# -- augmentation --------------------------------------------------------------------------------
def test_shift_pixels() -> None:
    assert shift_pixels((1, 28, 28)) == 2
    assert shift_pixels((3, 32, 32)) == 2
    assert shift_pixels((1, 8, 8)) == 1


def test_shift_images_moves_each_image_within_the_pad() -> None:
    x = torch.arange(2 * 6 * 6, dtype=torch.float32).reshape(2, 1, 6, 6)
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        out = shift_images(x, 2, flip=False, generator=gen)
        assert out.shape == x.shape
        for i in range(2):
            padded = torch.nn.functional.pad(x[i : i + 1], (2, 2, 2, 2), mode="replicate")[0, 0]
            windows = [padded[r : r + 6, c : c + 6] for r in range(5) for c in range(5)]
            assert any(torch.equal(out[i, 0], wnd) for wnd in windows)


def test_flips_only_when_asked() -> None:
    x = torch.randn(64, 1, 5, 5)
    assert torch.equal(
        shift_images(x, 0, flip=False, generator=torch.Generator().manual_seed(0)), x
    )
    out = shift_images(x, 0, flip=True, generator=torch.Generator().manual_seed(0))
    mirrored = [torch.equal(o, m) for o, m in zip(out, x.flip(3), strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, x, strict=True)]
    assert all(
        a or b for a, b in zip(mirrored, kept, strict=True)
    )  # each image as it is, or mirrored
    assert 16 < sum(mirrored) < 48  # about half of them mirrored


def test_augmentation_never_touches_validation_or_test_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = _images(n=40)
    seen: list[torch.Tensor] = []
    real = train_module.shift_images

    def spy(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        seen.append(x.clone())
        return real(x, *args, **kwargs)

    monkeypatch.setattr(train_module, "shift_images", spy)
    trainer = NetTrainer("cnn", _cnn(augment="shift_flip"), data, seed=0)
    trainer.train_epoch()
    train_rows = {tuple(row.flatten().tolist()) for row in torch.as_tensor(data.X_train)}
    assert seen and all(
        tuple(row.flatten().tolist()) in train_rows for batch in seen for row in batch
    )
    assert sum(len(b) for b in seen) == len(data.X_train)
    calls = len(seen)
    scores, pred = trainer.evaluate()  # validation: the rows as they are
    trainer.model.eval()
    with torch.no_grad():
        direct = torch.softmax(trainer.model(torch.as_tensor(data.X_val)), dim=1).numpy()
    np.testing.assert_allclose(pred, direct, rtol=1e-5, atol=1e-6)
    model = NetModel(
        "cnn",
        trainer.params,
        data.input_shape,
        3,
        "classification",
        0.0,
        1.0,
        trainer.model.state_dict(),
    )
    np.testing.assert_allclose(
        model.predict_output(data.X_val), direct, rtol=1e-5, atol=1e-6
    )  # test-time path
    assert len(seen) == calls  # neither evaluation nor prediction augmented anything


def test_tables_are_never_augmented() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)).astype(np.float32), rng.integers(0, 2, 40)
    data = TrialData(
        X[:20], y[:20], X[20:], y[20:], "classification", 2, np.arange(20), np.arange(20, 40)
    )
    params = default_params("mlp", "classification", 2) | {"augment": "shift"}
    assert NetTrainer("mlp", params, data).shift == 0
    assert isinstance(build_net("mlp", params, (6,), 2), MLP)
