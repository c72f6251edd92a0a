"""Load a config from YAML plus ``--set`` overrides into typed records, naming any bad key."""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from rayboost._errors import ConfigError
from rayboost._layout import check_name
from rayboost.config._schema import Config, DataConfig, SearchConfig

__all__ = [
    "check_grace_period",
    "config_from_dict",
    "config_to_dict",
    "load_config",
    "parse_overrides",
]


class _DuplicateKey(yaml.YAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise _DuplicateKey(
                    f"key {key!r} appears twice in one section (line {line}); keep one"
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}`` (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--set {item!r}: expected key=value, e.g. --set search.num_samples=8"
            )
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def _fail_unknown(prefix: str, key: str, known: list[str]) -> typing.NoReturn:
    hint = difflib.get_close_matches(key, known, n=1)
    did = f" (did you mean {prefix}{hint[0]}?)" if hint else ""
    raise ConfigError(f"unknown config key {prefix}{key}{did}; known keys: {', '.join(known)}")


def _coerce(key: str, tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(key, option, value)
            except ConfigError as exc:
                errors.append(str(exc))
        if len(options) == 1:
            raise ConfigError(errors[0])
        kinds = {float: "a number", int: "an integer", str: "a string", bool: "true or false"}
        wanted = [
            f"one of: {', '.join(map(str, typing.get_args(o)))}"
            if typing.get_origin(o) is Literal
            else kinds.get(o, str(o))
            for o in options
        ]
        raise ConfigError(f"{key}: expected {' or '.join(wanted)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(str(a) for a in args)
            raise ConfigError(f"{key}: {value!r} is not valid; use one of: {allowed}")
        return value
    if value is None:
        raise ConfigError(f"{key}: a value is required")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite integer, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(value)
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    if origin is tuple:
        if isinstance(value, str):
            value = [v.strip() for v in value.replace("x", ",").split(",")]
        if isinstance(value, int):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list such as 1,28,28, got {value!r}")
        try:
            return tuple(_coerce(key, args[0], int(v) if isinstance(v, str) else v) for v in value)
        except ValueError:
            raise ConfigError(f"{key}: expected integers such as 1,28,28, got {value!r}") from None
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return list(value)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    raise TypeError(f"unsupported config type {tp!r} for {key}")  # a bug, not user input


def _build(cls: Any, raw: Any, prefix: str = "") -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            _fail_unknown(prefix, str(key), names)
        kwargs[key] = _coerce(prefix + key, hints[key], value)
    return cls(**kwargs)


def check_grace_period(search: SearchConfig, how: str = "") -> None:
    """ASHA's first rung must fall within the epoch budget (``how``: where the budget came from)."""
    epochs = search.max_epochs
    if search.grace_period is not None and isinstance(epochs, int) and search.grace_period > epochs:
        raise ConfigError(
            f"search.grace_period ({search.grace_period}) exceeds search.max_epochs ({epochs}{how}); "
            "lower the grace period or raise max_epochs"
        )


def _check(config: Config) -> None:
    data: DataConfig = config.data
    if (data.dataset is None) == (data.path is None):
        raise ConfigError(
            "data: set exactly one of data.dataset (digits, breast_cancer, diabetes) or data.path"
        )
    if data.dataset is not None:
        for key in ("label", "image_shape"):
            if getattr(data, key) is not None:
                raise ConfigError(
                    f"data.{key} applies to data.path only; bundled dataset {data.dataset} sets its own"
                )
    if (
        data.path is not None
        and data.image_shape is not None
        and len(data.image_shape) not in (2, 3)
    ):
        raise ConfigError(f"data.image_shape: expected C,H,W or H,W, got {data.image_shape}")
    if data.image_shape is not None and min(data.image_shape) < 1:
        raise ConfigError(f"data.image_shape: sizes must be positive, got {data.image_shape}")
    if data.min_frequency < 1:
        raise ConfigError(f"data.min_frequency: must be at least 1, got {data.min_frequency}")
    if data.max_levels < 2:
        raise ConfigError(f"data.max_levels: must be at least 2, got {data.max_levels}")
    for key in ("categorical", "numeric", "drop"):
        names = getattr(data, key)
        if any(not isinstance(n, str) for n in names):
            raise ConfigError(f"data.{key}: expected a list of column names, got {names!r}")
    if (
        (data.categorical or data.numeric or data.drop)
        and data.path is None
        and data.dataset != "penguins"
    ):
        raise ConfigError(
            "data.categorical, data.numeric and data.drop are for a table (data.path, or data.dataset=penguins)"
        )
    for key in ("val_fraction", "test_fraction"):
        if not 0.0 < getattr(data, key) < 0.5:
            raise ConfigError(f"data.{key}: must be between 0 and 0.5, got {getattr(data, key)}")
    search: SearchConfig = config.search
    for key in ("num_samples", "max_epochs", "grace_period"):
        if isinstance(getattr(search, key), int) and getattr(search, key) < 1:
            raise ConfigError(f"search.{key}: must be at least 1, got {getattr(search, key)}")
    if search.reduction_factor < 2:
        raise ConfigError(
            f"search.reduction_factor: must be at least 2, got {search.reduction_factor}"
        )
    check_grace_period(search)
    if search.portfolio is not None and search.portfolio < 0:
        raise ConfigError(f"search.portfolio: must be 0 (none) or more, got {search.portfolio}")
    if search.checkpoint_every_s < 0:
        raise ConfigError(
            f"search.checkpoint_every_s: must be 0 (every epoch) or more, got {search.checkpoint_every_s}"
        )
    if isinstance(search.time_budget_s, float) and search.time_budget_s <= 0:
        raise ConfigError(f"search.time_budget_s: must be positive, got {search.time_budget_s}")
    if search.max_concurrent_trials is not None and search.max_concurrent_trials < 1:
        raise ConfigError("search.max_concurrent_trials: must be at least 1")
    if search.n_initial_points is not None and search.n_initial_points < 1:
        raise ConfigError("search.n_initial_points: must be at least 1")
    if search.algorithm == "manual" and not search.manual:
        raise ConfigError("search.manual: list the configs to run, e.g. [{lr: 0.01}, {lr: 0.001}]")
    if any(not isinstance(point, dict) for point in search.manual):
        raise ConfigError("search.manual: each entry must be a mapping of hyperparameters")
    if config.ensemble.top_k < 0:
        raise ConfigError(f"ensemble.top_k: must be 0 or more, got {config.ensemble.top_k}")
    if config.search.grid == {}:
        raise ConfigError(
            "search.grid is empty: list values per hyperparameter, e.g. {lr: [0.01, 0.001]}, "
            "or drop search.grid for the default grid"
        )
    if config.search.grid and config.search.algorithm != "grid":
        raise ConfigError(
            f"search.grid is only used by search.algorithm=grid (it is {config.search.algorithm}); "
            "set search.algorithm=grid or drop search.grid"
        )
    if config.search.manual and config.search.algorithm != "manual":
        raise ConfigError(
            f"search.manual is only used by search.algorithm=manual (it is {config.search.algorithm}); "
            "set search.algorithm=manual or drop search.manual"
        )
    if config.ray.num_cpus is not None and config.ray.num_cpus < 1:
        raise ConfigError(
            f"ray.num_cpus: must be at least 1 (or unset for all CPUs), got {config.ray.num_cpus}"
        )
    members = [f"net_{i + 1}" for i in range(config.ensemble.top_k)]
    members += [k for k in ("xgboost", "linear") if getattr(config.ensemble, k)]
    unknown = [m for m in config.ensemble.weights if m not in members]
    if unknown:
        raise ConfigError(
            f"ensemble.weights: unknown member {unknown[0]!r}; with these settings the members are: {', '.join(members)}"
        )
    if config.ensemble.xgboost_trials < 1:
        raise ConfigError(
            f"ensemble.xgboost_trials: must be at least 1 (1: XGBoost's defaults only), got {config.ensemble.xgboost_trials}"
        )
    if config.ensemble.method == "weights" and not config.ensemble.weights:
        raise ConfigError(
            "ensemble.weights: method=weights needs weights per member, e.g. {net_1: 0.5, xgboost: 0.5}"
        )
    if any(
        not isinstance(w, (int, float)) or isinstance(w, bool) or w < 0
        for w in config.ensemble.weights.values()
    ):
        raise ConfigError(
            f"ensemble.weights: weights must be non-negative numbers, got {config.ensemble.weights}"
        )
    if config.resources.cpus_per_trial <= 0:
        raise ConfigError("resources.cpus_per_trial: must be positive")
    if config.resources.gpus_per_trial < 0:
        raise ConfigError("resources.gpus_per_trial: must not be negative")
    if config.name is not None:
        check_name(config.name)
    if not 0 <= config.seed < 2**32:
        raise ConfigError(f"seed: must be between 0 and 2**32 - 1, got {config.seed}")


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    base: dict[str, Any] | None = None,
) -> Config:
    """Read a YAML config (optional; or start from ``base``), apply dotted overrides, validate."""
    raw: dict[str, Any] = dict(base or {})
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found; pass an existing YAML file")
        try:
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"config file {path} is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        except _DuplicateKey as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            where = f" at line {line + 1}" if line is not None else ""
            raise ConfigError(f"config file {path} is not valid YAML{where}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: expected a mapping of keys at the top level")
        raw = loaded or {}
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    for key, value in (overrides or {}).items():
        _set_dotted(raw, key, value)
    return config_from_dict(raw)


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Validate a plain mapping (as in an experiment's config.yaml) into a :class:`Config`."""
    config = _build(Config, raw)
    _check(config)
    return config


def read_stored_config(path: Path) -> dict[str, Any]:
    """An experiment's config.yaml as a plain mapping, in today's form: experiments stored
    before ``search.grid`` could be unset hold ``grid: {}`` for "the default grid"."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    search = raw.get("search")
    if isinstance(search, dict) and search.get("grid") == {}:
        search["grid"] = None
    return raw


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain, YAML-safe form of a config (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))
