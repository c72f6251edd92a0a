"""Hyperparameters of the net families: what each means, its allowed values and search spaces.

Two spaces per family. ``wide`` covers every question of the tuning lecture: units/filters,
activation, where BatchNorm goes, dropout, depth, learning rate, batch size, L1/L2 strength,
initialization, loss, optimizer. ``default`` keeps the ranges in which nets train with the
training recipe (AdamW, a one-cycle or cosine schedule, gradient clipping, shifted images), so
that a budget goes to nets that learn; the defaults of each hyperparameter are a textbook net
(two conv-conv-pool stages of 32 and 64 filters, a flattened dense head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rayboost._errors import ConfigError
from rayboost.config import Choice, Constant, Dist, IntUniform, LogUniform, Uniform, parse_dist
from rayboost.models._layers import ACTIVATIONS, BN_PLACEMENTS

__all__ = [
    "FAMILIES",
    "SPACE_PRESETS",
    "Param",
    "default_params",
    "param_specs",
    "portfolio",
    "resolve_space",
    "validate_params",
]

FAMILIES = ("cnn", "mlp", "wide_deep")
SPACE_PRESETS = ("default", "wide")
SCHEDULES = ("onecycle", "cosine", "constant")
AUGMENTS = ("shift", "shift_flip", "none")
INITS = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


@dataclass(frozen=True)
class Param:
    kind: str  # "cat" | "int" | "float"
    default: Any
    space: Dist  # the default space
    options: tuple[Any, ...] = ()  # allowed values of a "cat" param
    low: float = 0.0  # allowed range of a numeric param (inclusive)
    high: float = float("inf")
    help: str = ""
    wide: Dist | None = None  # the wide space (the lecture's), when it differs


def _cat(default: Any, space: Any, options: tuple[Any, ...], help: str, wide: Any = None) -> Param:
    return Param(
        "cat",
        default,
        parse_dist("", space),
        options=options,
        help=help,
        wide=None if wide is None else parse_dist("", wide),
    )


PRECISIONS = ("fp32", "bf16", "fp16")


def param_specs(family: str, task: str, max_epochs: int) -> dict[str, Param]:
    """Every hyperparameter of ``family`` for ``task``, with its default and wide spaces."""
    specs: dict[str, Param] = {
        "bn": _cat(
            "before",
            ["before", "after"],
            BN_PLACEMENTS,
            "BatchNorm before/after the activation, or none",
            wide=list(BN_PLACEMENTS),
        ),
        "activation": _cat(
            "relu",
            ["relu", "gelu"],
            tuple(ACTIVATIONS),
            "activation function",
            wide=["relu", "gelu", "elu"],
        ),
        "dropout": Param(
            "float",
            0.25,
            Uniform(0.0, 0.3),
            low=0.0,
            high=0.95,
            help="dropout rate",
            wide=Uniform(0.0, 0.5),
        ),
        "lr": Param(
            "float",
            3e-3,
            LogUniform(1e-3, 1e-2),
            low=1e-7,
            high=10.0,
            help="peak learning rate",
            wide=LogUniform(3e-4, 3e-2),
        ),
        "optimizer": _cat(
            "adamw",
            "adamw",
            OPTIMIZERS,
            "optimizer (sgd: momentum 0.9, nesterov)",
            wide=["adam", "adamw", "sgd"],
        ),
        "batch_size": Param(
            "int",
            64,
            Choice((32, 64, 128)),
            low=1,
            high=65536,
            help="mini-batch size",
            wide=Choice((32, 64, 128, 256)),
        ),
        "epochs": Param(
            "int",
            max_epochs,
            Constant(max_epochs),
            low=1,
            high=100000,
            help="epochs (capped by search.max_epochs); the schedule spans them",
        ),
        "patience": Param(
            "int", 10, Constant(10), low=1, high=100000, help="early-stopping patience in epochs"
        ),
        "l2": Param(
            "float",
            1e-4,
            LogUniform(1e-5, 1e-2),
            low=0.0,
            high=1.0,
            help="weight decay (not on BN/bias)",
            wide=LogUniform(1e-6, 1e-2),
        ),
        "l1": Param(
            "float",
            0.0,
            Constant(0.0),
            low=0.0,
            high=1.0,
            help="L1 penalty (not on BN/bias)",
            wide=Choice((0.0, 1e-6, 1e-5)),
        ),
        "init": _cat(
            "kaiming_normal", "kaiming_normal", INITS, "weight initialization", wide=list(INITS)
        ),
        "schedule": _cat(
            "onecycle",
            ["onecycle", "cosine"],
            SCHEDULES,
            "learning-rate schedule over the trial's epochs: onecycle (warm up to lr over 25%, anneal to lr/2.5e5), "
            "cosine (linear warm-up over 5%, cosine to 0) or constant",
            wide=list(SCHEDULES),
        ),
        "grad_clip": Param(
            "float",
            1.0,
            Constant(1.0),
            low=0.0,
            high=1e6,
            help="clip the gradient norm to this (0: off)",
        ),
        "precision": _cat(
            "fp32",
            "fp32",
            PRECISIONS,
            "training precision: fp32, or mixed bf16/fp16 autocast (fp16 with loss scaling)",
        ),
    }
    if task == "classification":
        specs["loss"] = _cat("cross_entropy", "cross_entropy", ("cross_entropy",), "loss function")
        specs["label_smoothing"] = Param(
            "float",
            0.0,
            Choice((0.0, 0.1)),
            low=0.0,
            high=0.5,
            help="cross-entropy label smoothing",
            wide=Choice((0.0, 0.05, 0.1)),
        )
    else:
        specs["loss"] = _cat("mse", ["mse", "huber"], ("mse", "huber"), "loss function")
    if family == "cnn":
        specs.update(
            conv=_cat(
                "standard", ["standard", "separable"], ("separable", "standard"), "conv kind"
            ),
            stem=_cat(
                "standard",
                "standard",
                ("standard", "same"),
                "first conv: a standard conv, or the same kind as conv",
            ),
            filters=Param(
                "int",
                32,
                Choice((16, 32, 64)),
                low=1,
                high=4096,
                help="filters of the first stage (×2 per stage, up to max_filters)",
                wide=Choice((8, 16, 32, 64)),
            ),
            max_filters=Param("int", 128, Constant(128), low=1, high=4096, help="widest stage"),
            kernel_size=Param(
                "int", 3, Constant(3), low=1, high=15, help="conv kernel size", wide=Choice((3, 5))
            ),
            blocks=Param(
                "int",
                2,
                Choice((2, 3)),
                low=1,
                high=8,
                help="conv stages, each ending in a 2×2 max-pool",
                wide=Choice((1, 2, 3)),
            ),
            convs=Param(
                "int",
                2,
                Choice((1, 2)),
                low=1,
                high=3,
                help="conv units per stage",
                wide=Choice((1, 2, 3)),
            ),
            residual=_cat(
                False,
                [False, True],
                (False, True),
                "a shortcut around each stage's convs (1×1 conv where the width changes)",
            ),
            head=_cat(
                "flatten",
                ["flatten", "gap"],
                ("flatten", "gap"),
                "head input: the flattened last map, or its global average",
            ),
            head_units=Param(
                "int",
                128,
                Choice((64, 128)),
                low=1,
                high=65536,
                help="units of the dense head",
                wide=Choice((32, 64, 128, 256)),
            ),
            augment=_cat(
                "shift",
                "shift",
                AUGMENTS,
                "train-batch augmentation: random shifts of up to H/14 pixels (at least 1), also random "
                "horizontal flips with shift_flip (not label-safe for digits or text), or none",
                wide=["shift", "none"],
            ),
        )
    elif family in ("mlp", "wide_deep"):
        specs.update(
            units=Param(
                "int",
                128,
                Choice((64, 128, 256)),
                low=1,
                high=65536,
                help="units per hidden layer",
                wide=Choice((32, 64, 128, 256)),
            ),
            layers=Param("int", 2, Choice((1, 2, 3)), low=1, high=32, help="hidden layers"),
            residual=_cat(
                False,
                [False, True],
                (False, True),
                "a shortcut around every hidden layer after the first",
            ),
        )
        if family == "wide_deep":
            specs.update(
                embed_mult=Param(
                    "float",
                    1.0,
                    Choice((0.5, 1.0, 2.0)),
                    low=0.1,
                    high=8.0,
                    help="embedding width of each categorical column, times 1.6·levels^0.56",
                ),
                wide_lr_mult=Param(
                    "float",
                    1.0,
                    Choice((1.0, 3.0)),
                    low=0.01,
                    high=100.0,
                    help="the wide part's learning rate, times lr",
                ),
                cross_buckets=Param(
                    "int",
                    1024,
                    Constant(1024),
                    low=1,
                    high=1 << 20,
                    help="hashed buckets of each crossed pair of categorical columns (wide part)",
                ),
            )
    else:
        raise ConfigError(
            f"model.family: unknown family {family!r}; use one of: {', '.join(FAMILIES)}"
        )
    return specs


def default_params(family: str, task: str, max_epochs: int) -> dict[str, Any]:
    return {name: spec.default for name, spec in param_specs(family, task, max_epochs).items()}


# Known-good configurations per family, as changes to the defaults (the first is the defaults:
# a textbook net). Chosen to differ from each other (the ensemble gains from diverse members).
_PORTFOLIO: dict[str, list[dict[str, Any]]] = {
    "cnn": [
        {},  # two conv-conv-pool stages of 32 and 64 standard filters, flattened head, one-cycle
        # a residual net of separable convs after a standard stem (Xception-like), averaged head
        {
            "conv": "separable",
            "blocks": 3,
            "residual": True,
            "head": "gap",
            "dropout": 0.1,
            "schedule": "cosine",
            "lr": 5e-3,
        },
        # wide single-conv stages, averaged head, larger batches
        {
            "filters": 64,
            "blocks": 3,
            "convs": 1,
            "head": "gap",
            "dropout": 0.1,
            "batch_size": 128,
            "lr": 5e-3,
            "l2": 1e-3,
        },
    ],
    "mlp": [
        {},  # two BN layers of 128 units, dropout 0.25, one-cycle
        {"layers": 3, "units": 256, "residual": True, "dropout": 0.1, "schedule": "cosine"},
        {"layers": 1, "units": 256, "dropout": 0.1, "lr": 1e-2, "batch_size": 128},
    ],
    "wide_deep": [
        {},  # embeddings + numbers into two BN layers of 128 units, plus the wide part
        {"layers": 3, "units": 256, "residual": True, "dropout": 0.1, "schedule": "cosine"},
        {"layers": 1, "units": 256, "embed_mult": 2.0, "dropout": 0.1, "lr": 1e-2},
    ],
}


def portfolio(family: str, task: str, max_epochs: int) -> list[dict[str, Any]]:
    """The family's known-good configurations, complete (every hyperparameter set)."""
    if family not in _PORTFOLIO:
        raise ConfigError(
            f"model.family: unknown family {family!r}; use one of: {', '.join(FAMILIES)}"
        )
    base = default_params(family, task, max_epochs)
    return [{**base, **point} for point in _PORTFOLIO[family]]


def _check_value(key: str, spec: Param, value: Any) -> Any:
    if spec.kind == "cat":
        if value not in spec.options:
            raise ConfigError(
                f"{key}: {value!r} is not valid; use one of: {', '.join(map(str, spec.options))}"
            )
        return value
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if spec.kind == "int":
        if int(value) != value:
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        value = int(value)
    if not spec.low <= value <= spec.high:
        raise ConfigError(f"{key}: {value!r} is out of range [{spec.low:g}, {spec.high:g}]")
    return float(value) if spec.kind == "float" else value


def _check_dist(key: str, spec: Param, dist: Dist) -> Dist:
    if isinstance(dist, Constant):
        return Constant(_check_value(key, spec, dist.value))
    if isinstance(dist, Choice):
        return Choice(tuple(_check_value(key, spec, v) for v in dist.values))
    if spec.kind == "cat":
        raise ConfigError(f"{key}: a categorical hyperparameter takes a value or a list of values")
    if isinstance(dist, IntUniform) and spec.kind == "float":
        dist = Uniform(float(dist.low), float(dist.high))
    if isinstance(dist, (Uniform, LogUniform)) and spec.kind == "int":
        raise ConfigError(
            f"{key}: an integer hyperparameter takes randint, a value or a list of values"
        )
    _check_value(key, spec, dist.low)
    _check_value(key, spec, dist.high)
    return dist


def _unknown(prefix: str, name: str, family: str, specs: dict[str, Param]) -> ConfigError:
    return ConfigError(
        f"{prefix}{name}: not a hyperparameter of the {family} family; known: {', '.join(specs)}"
    )


def resolve_space(
    family: str,
    task: str,
    max_epochs: int,
    overrides: dict[str, Any],
    prefix: str = "search.space.",
    preset: str = "default",
) -> dict[str, Dist]:
    """The ``preset`` space of ``family`` ("default" or "wide") with the user's overrides
    applied and validated."""
    specs = param_specs(family, task, max_epochs)
    if preset not in SPACE_PRESETS:
        raise ConfigError(
            f"search.space_preset: {preset!r} is not valid; use one of: {', '.join(SPACE_PRESETS)}"
        )
    pick = (
        (lambda spec: spec.space) if preset == "default" else (lambda spec: spec.wide or spec.space)
    )
    space = {name: pick(spec) for name, spec in specs.items()}
    for name, raw in overrides.items():
        if name not in specs:
            raise _unknown(prefix, name, family, specs)
        space[name] = _check_dist(prefix + name, specs[name], parse_dist(prefix + name, raw))
    return space


def validate_params(
    family: str, task: str, max_epochs: int, params: dict[str, Any], prefix: str
) -> dict[str, Any]:
    """Check fixed values (grid or manual points) and return them normalised."""
    specs = param_specs(family, task, max_epochs)
    out = {}
    for name, value in params.items():
        if name not in specs:
            raise _unknown(prefix, name, family, specs)
        out[name] = _check_value(prefix + name, specs[name], value)
    return out
