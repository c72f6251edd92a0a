"""Hyperparameters of the net families: what each means, its allowed values and default space.

The default spaces cover every question of the tuning lecture: units/filters, activation, where
BatchNorm goes, dropout, depth, learning rate, batch size, L1/L2 strength, initialization, loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rayboost._errors import ConfigError
from rayboost.config import Choice, Constant, Dist, IntUniform, LogUniform, Uniform, parse_dist
from rayboost.models._layers import ACTIVATIONS, BN_PLACEMENTS

__all__ = ["FAMILIES", "Param", "default_params", "param_specs", "resolve_space", "validate_params"]

FAMILIES = ("cnn", "mlp")
INITS = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


@dataclass(frozen=True)
class Param:
    kind: str  # "cat" | "int" | "float"
    default: Any
    space: Dist
    options: tuple[Any, ...] = ()  # allowed values of a "cat" param
    low: float = 0.0  # allowed range of a numeric param (inclusive)
    high: float = float("inf")
    help: str = ""


def _cat(default: Any, space: Any, options: tuple[Any, ...], help: str) -> Param:
    return Param("cat", default, parse_dist("", space), options=options, help=help)


PRECISIONS = ("fp32", "bf16", "fp16")


def param_specs(family: str, task: str, max_epochs: int) -> dict[str, Param]:
    """Every hyperparameter of ``family`` for ``task``, with its default space."""
    specs: dict[str, Param] = {
        "bn": _cat("before", list(BN_PLACEMENTS), BN_PLACEMENTS, "BatchNorm before/after the activation, or none"),
        "activation": _cat("relu", ["relu", "gelu", "elu"], tuple(ACTIVATIONS), "activation function"),
        "dropout": Param("float", 0.1, Uniform(0.0, 0.5), low=0.0, high=0.95, help="dropout rate"),
        "lr": Param("float", 3e-3, LogUniform(3e-4, 3e-2), low=1e-7, high=10.0, help="learning rate"),
        "optimizer": _cat("adam", ["adam", "adamw", "sgd"], OPTIMIZERS, "optimizer (sgd: momentum 0.9, nesterov)"),
        "batch_size": Param("int", 64, Choice((32, 64, 128, 256)), low=1, high=65536, help="mini-batch size"),
        "epochs": Param("int", max_epochs, Constant(max_epochs), low=1, high=100000, help="epochs (capped by search.max_epochs)"),
        "patience": Param("int", 5, Constant(5), low=1, high=100000, help="early-stopping patience in epochs"),
        "l2": Param("float", 1e-4, LogUniform(1e-6, 1e-2), low=0.0, high=1.0, help="L2 weight decay (not on BN/bias)"),
        "l1": Param("float", 0.0, Choice((0.0, 1e-6, 1e-5)), low=0.0, high=1.0, help="L1 penalty (not on BN/bias)"),
        "init": _cat("kaiming_normal", list(INITS), INITS, "weight initialization"),
        "precision": _cat(
            "fp32", "fp32", PRECISIONS, "training precision: fp32, or mixed bf16/fp16 autocast (fp16 with loss scaling)"
        ),
    }
    if task == "classification":
        specs["loss"] = _cat("cross_entropy", "cross_entropy", ("cross_entropy",), "loss function")
        specs["label_smoothing"] = Param(
            "float", 0.0, Choice((0.0, 0.05, 0.1)), low=0.0, high=0.5, help="cross-entropy label smoothing"
        )
    else:
        specs["loss"] = _cat("mse", ["mse", "huber"], ("mse", "huber"), "loss function")
    if family == "cnn":
        specs.update(
            conv=_cat("separable", ["separable", "standard"], ("separable", "standard"), "conv kind"),
            stem=_cat("standard", "standard", ("standard", "same"), "first block: a standard conv, or the same kind as conv"),
            filters=Param("int", 16, Choice((8, 16, 32)), low=1, high=4096, help="filters of the first block (×2 per block)"),
            kernel_size=Param("int", 3, Choice((3, 5)), low=1, high=15, help="conv kernel size"),
            blocks=Param("int", 2, Choice((1, 2, 3)), low=1, high=8, help="conv blocks"),
            head_units=Param("int", 64, Choice((32, 64, 128)), low=1, high=65536, help="units of the dense head"),
        )
    elif family == "mlp":
        specs.update(
            units=Param("int", 128, Choice((32, 64, 128, 256)), low=1, high=65536, help="units per hidden layer"),
            layers=Param("int", 2, Choice((1, 2, 3)), low=1, high=32, help="hidden layers"),
        )
    else:
        raise ConfigError(f"model.family: unknown family {family!r}; use one of: {', '.join(FAMILIES)}")
    return specs


def default_params(family: str, task: str, max_epochs: int) -> dict[str, Any]:
    return {name: spec.default for name, spec in param_specs(family, task, max_epochs).items()}


def _check_value(key: str, spec: Param, value: Any) -> Any:
    if spec.kind == "cat":
        if value not in spec.options:
            raise ConfigError(f"{key}: {value!r} is not valid; use one of: {', '.join(map(str, spec.options))}")
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
        raise ConfigError(f"{key}: an integer hyperparameter takes randint, a value or a list of values")
    _check_value(key, spec, dist.low)
    _check_value(key, spec, dist.high)
    return dist


def _unknown(prefix: str, name: str, family: str, specs: dict[str, Param]) -> ConfigError:
    return ConfigError(f"{prefix}{name}: not a hyperparameter of the {family} family; known: {', '.join(specs)}")


def resolve_space(
    family: str, task: str, max_epochs: int, overrides: dict[str, Any], prefix: str = "search.space."
) -> dict[str, Dist]:
    """The default space of ``family`` with the user's overrides applied and validated."""
    specs = param_specs(family, task, max_epochs)
    space = {name: spec.space for name, spec in specs.items()}
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
