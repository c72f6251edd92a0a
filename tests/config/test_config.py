"""Config loading: defaults, YAML + ``--set`` overrides, errors naming the key, distributions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rayboost._errors import ConfigError
from rayboost.config import (
    Choice,
    Config,
    Constant,
    IntUniform,
    LogUniform,
    Uniform,
    config_from_dict,
    config_to_dict,
    dist_to_plain,
    load_config,
    parse_dist,
    parse_overrides,
    read_stored_config,
)

DIGITS = ["data.dataset=digits"]


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- defaults and the happy path ----------------------------------------------------------------


def test_defaults() -> None:
    config = load_config(overrides=DIGITS)
    assert isinstance(config, Config)
    assert config.name is None
    assert config.seed == 0
    assert config.storage is None
    assert config.data.dataset == "digits"
    assert config.data.path is None
    assert config.data.label is None
    assert config.data.image_shape is None
    assert config.data.task == "auto"
    assert config.data.val_fraction == 0.2
    assert config.data.test_fraction == 0.2
    assert config.model.family == "auto"
    assert config.search.algorithm == "hyperopt"
    assert config.search.scheduler == "asha"
    assert config.search.num_samples is None  # as many as the time budget allows
    assert config.search.max_epochs == "auto"  # from the training rows, when the data is read
    assert config.search.grace_period is None  # from max_epochs and reduction_factor
    assert config.search.reduction_factor == 3
    assert config.search.time_budget_s == "auto"
    assert config.search.space_preset == "default"
    assert config.search.portfolio is None
    assert config.search.space == {}
    assert config.search.grid is None  # the default grid
    assert config.search.manual == []
    assert config.resources.cpus_per_trial == 1.0
    assert config.resources.gpus_per_trial == 0.0
    assert config.ray.address is None
    assert config.ray.num_cpus is None


def test_defaults_are_not_shared_between_configs() -> None:
    a = load_config(overrides=DIGITS)
    a.search.space["lr"] = 0.1
    b = load_config(overrides=DIGITS)
    assert b.search.space == {}


def test_yaml_file_with_set_overrides(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
name: demo
seed: 3
data:
  dataset: breast_cancer
  val_fraction: 0.25
search:
  algorithm: random
  num_samples: 4
  max_epochs: 10
  space:
    dropout: 0.2
""",
    )
    config = load_config(
        path,
        [
            "seed=7",
            "search.num_samples=12",
            "search.space.lr={loguniform: [1.0e-4, 1.0e-2]}",
            "search.space.bn=[before, after]",
            "resources.cpus_per_trial=2",
        ],
    )
    assert config.name == "demo"
    assert config.seed == 7  # --set wins over the file
    assert config.data.dataset == "breast_cancer"
    assert config.data.val_fraction == 0.25
    assert config.search.algorithm == "random"
    assert config.search.num_samples == 12
    assert config.search.max_epochs == 10
    # the override merges into the file's space instead of replacing it
    assert config.search.space == {
        "dropout": 0.2,
        "lr": {"loguniform": [1.0e-4, 1.0e-2]},
        "bn": ["before", "after"],
    }
    assert isinstance(config.resources.cpus_per_trial, float)
    assert config.resources.cpus_per_trial == 2.0


def test_overrides_as_dict() -> None:
    config = load_config(overrides={"data.dataset": "diabetes", "search.max_epochs": 5})
    assert config.data.dataset == "diabetes"
    assert config.search.max_epochs == 5


def test_empty_yaml_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, ""), DIGITS)
    assert config == load_config(overrides=DIGITS)


def test_parse_overrides_yaml_typed_values() -> None:
    parsed = parse_overrides(
        [
            "search.num_samples=8",
            "data.val_fraction=0.1",
            "data.dataset=digits",
            "x.flag=true",
            "x.none=",
            "x.list=[1, 2]",
            "search.space.lr={loguniform: [1.0e-4, 1.0e-2]}",
            " name = run1 ",
            "url=a=b",
        ]
    )
    assert parsed == {
        "search.num_samples": 8,
        "data.val_fraction": 0.1,
        "data.dataset": "digits",
        "x.flag": True,
        "x.none": None,
        "x.list": [1, 2],
        "search.space.lr": {"loguniform": [1.0e-4, 1.0e-2]},
        "name": "run1",
        "url": "a=b",  # only the first '=' separates key and value
    }
    assert type(parsed["search.num_samples"]) is int
    assert type(parsed["data.val_fraction"]) is float
    assert parse_overrides(None) == {}
    assert parse_overrides([]) == {}


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1,28,28", (1, 28, 28)),
        ("28,28", (28, 28)),
        ("3x32x32", (3, 32, 32)),
        ("[1, 8, 8]", (1, 8, 8)),
    ],
)
def test_image_shape_becomes_a_tuple(value: str, expected: tuple[int, ...]) -> None:
    config = load_config(
        overrides=["data.path=pixels.csv", "data.label=y", f"data.image_shape={value}"]
    )
    assert config.data.image_shape == expected
    assert isinstance(config.data.image_shape, tuple)
    assert all(type(v) is int for v in config.data.image_shape)


def test_image_shape_in_yaml_list(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  path: x.npz\n  image_shape: [1, 28, 28]\n")
    assert load_config(path).data.image_shape == (1, 28, 28)


def test_config_to_dict_is_plain() -> None:
    config = load_config(overrides=["data.path=x.csv", "data.image_shape=1,4,4"])
    plain = config_to_dict(config)
    assert plain["data"]["image_shape"] == [1, 4, 4]
    assert plain["search"]["num_samples"] is None and plain["search"]["time_budget_s"] == "auto"
    # the plain form loads back to the same config
    again = load_config(overrides={k: v for k, v in _flatten(plain).items() if v is not None})
    assert again == config


def _flatten(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict) and key not in ("space", "grid"):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- errors: every one a ConfigError that names the key -------------------------------------------


def _error(overrides: list[str], path: Path | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        load_config(overrides=[])


def test_unknown_top_level_key_with_hint() -> None:
    message = _error([*DIGITS, "serach.num_samples=3"])
    assert "serach" in message
    assert "did you mean search?" in message
    assert "known keys:" in message


def test_unknown_nested_key_with_hint() -> None:
    message = _error([*DIGITS, "search.num_sample=3"])
    assert "search.num_sample " in message
    assert "did you mean search.num_samples?" in message
    assert "max_epochs" in message  # lists the keys of that section


def test_unknown_key_without_close_match_has_no_hint() -> None:
    message = _error([*DIGITS, "search.zzzzzz=1"])
    assert "search.zzzzzz" in message
    assert "did you mean" not in message


def test_unknown_key_in_yaml_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  dataset: digits\n  lable: y\n")
    message = _error([], path)
    assert "data.lable" in message
    assert "did you mean data.label?" in message


@pytest.mark.parametrize(
    "override, key",
    [
        ("search.num_samples=abc", "search.num_samples"),
        ("search.num_samples=2.5", "search.num_samples"),
        ("search.num_samples=true", "search.num_samples"),
        ("seed=[1, 2]", "seed"),
        ("data.val_fraction=high", "data.val_fraction"),
        ("search.time_budget_s=soon", "search.time_budget_s"),
        ("search.space=[1, 2]", "search.space"),
        ("search.manual={lr: 1}", "search.manual"),
        ("name=[a]", "name"),
        ("data.image_shape=1,a,3", "data.image_shape"),
    ],
)
def test_wrong_type_names_the_key(override: str, key: str) -> None:
    message = _error([*DIGITS, override])
    assert message.startswith(key + ":"), message


@pytest.mark.parametrize(
    "override, key",
    [
        ("seed=.inf", "seed"),
        ("seed=.nan", "seed"),
        ("search.num_samples=-.inf", "search.num_samples"),
        ("data.val_fraction=.nan", "data.val_fraction"),
        ("resources.cpus_per_trial=.nan", "resources.cpus_per_trial"),
        ("search.time_budget_s=.inf", "search.time_budget_s"),
        ("seed=-1", "seed"),
        ("seed=4294967296", "seed"),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_refused(override: str, key: str) -> None:
    message = _error([*DIGITS, override])
    assert message.startswith(key + ":"), message


@pytest.mark.parametrize(
    "name, needle",
    [
        ("../outside", "'/'"),
        ("/tmp/abs", "'/'"),
        ("a\\b", "'\\'"),
        ("..", "start with '.'"),
        (".hidden", "start with '.'"),
        ("a\x00b", "NUL"),
        ("x" * 256, "256 bytes"),
        ("é" * 128, "256 bytes"),
    ],
)
def test_experiment_names_must_be_plain_folder_names(name: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [], base={"data": {"dataset": "digits"}, "name": name})
    message = str(info.value)
    assert message.startswith("experiment name ") and needle in message and "\n" not in message, (
        message
    )
    assert (
        load_config(None, [], base={"data": {"dataset": "digits"}, "name": "é" * 127}).name
        == "é" * 127
    )


def test_a_key_given_twice_in_a_yaml_file_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "data:\n  dataset: digits\nsearch:\n  num_samples: 4\n  num_samples: 8\n"
    )
    message = _error([], path)
    assert "'num_samples' appears twice" in message and "line 5" in message


def test_a_stored_config_with_the_old_empty_grid_still_loads(tmp_path: Path) -> None:
    # experiments stored before search.grid could be unset hold grid: {} for the default grid
    plain = config_to_dict(load_config(overrides=DIGITS))
    plain["search"]["grid"] = {}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(plain))
    assert config_from_dict(read_stored_config(path)).search.grid is None
    with pytest.raises(ConfigError, match="search.grid is empty"):
        config_from_dict(plain)  # given by a user, it is refused


def test_a_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("data:\n  dataset: digits\nname: caf\u00e9\n".encode("latin-1"))
    assert "not UTF-8" in _error([], path)


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["search.grid={lr: [0.1, 0.01]}"], "search.grid is only used by search.algorithm=grid"),
        (["search.manual=[{lr: 0.1}]"], "search.manual is only used by search.algorithm=manual"),
        (["search.algorithm=grid", "search.grid={}"], "search.grid is empty"),
        (["ray.num_cpus=-3"], "ray.num_cpus"),
        (["ensemble.weights={net_7: 1}"], "unknown member 'net_7'"),
        (["ensemble.xgboost=false", "ensemble.weights={xgboost: 1}"], "unknown member 'xgboost'"),
    ],
)
def test_options_that_would_be_ignored_or_fail_late_are_refused(
    overrides: list[str], needle: str
) -> None:
    assert needle in _error([*DIGITS, *overrides])


def test_section_given_a_scalar() -> None:
    assert "search" in _error([*DIGITS, "search=5"])


def test_set_into_a_scalar_is_not_a_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "seed: 1\ndata:\n  dataset: digits\n")
    message = _error(["seed.x=1"], path)
    assert "seed.x" in message and "not a section" in message


@pytest.mark.parametrize(
    "override, key, value",
    [
        ("search.algorithm=bayes", "search.algorithm", "bayes"),
        ("search.scheduler=hyperband", "search.scheduler", "hyperband"),
        ("data.task=ranking", "data.task", "ranking"),
        ("model.family=transformer", "model.family", "transformer"),
    ],
)
def test_invalid_literal(override: str, key: str, value: str) -> None:
    message = _error([*DIGITS, override])
    assert message.startswith(key + ":")
    assert repr(value) in message
    assert "use one of" in message


def test_invalid_dataset_lists_bundled_ones() -> None:
    message = _error(["data.dataset=mnist"])
    assert message.startswith("data.dataset:")
    assert "digits" in message and "breast_cancer" in message and "diabetes" in message


@pytest.mark.parametrize("overrides", [[], ["data.dataset=digits", "data.path=x.csv"]])
def test_exactly_one_of_dataset_and_path(overrides: list[str]) -> None:
    message = _error(overrides)
    assert "data.dataset" in message and "data.path" in message


@pytest.mark.parametrize(
    "override, key",
    [
        ("data.val_fraction=0.5", "data.val_fraction"),
        ("data.val_fraction=0", "data.val_fraction"),
        ("data.test_fraction=-0.1", "data.test_fraction"),
        ("data.test_fraction=0.9", "data.test_fraction"),
    ],
)
def test_fraction_out_of_range(override: str, key: str) -> None:
    message = _error([*DIGITS, override])
    assert key in message
    assert "between 0 and 0.5" in message


def test_fraction_just_inside_range_is_fine() -> None:
    config = load_config(overrides=[*DIGITS, "data.val_fraction=0.49", "data.test_fraction=0.01"])
    assert (config.data.val_fraction, config.data.test_fraction) == (0.49, 0.01)


def test_grace_period_exceeds_max_epochs() -> None:
    message = _error([*DIGITS, "search.max_epochs=5", "search.grace_period=6"])
    assert "search.grace_period" in message and "search.max_epochs" in message
    assert "6" in message and "5" in message
    # equal is allowed
    config = load_config(overrides=[*DIGITS, "search.max_epochs=5", "search.grace_period=5"])
    assert config.search.grace_period == 5


@pytest.mark.parametrize(
    "override, key",
    [
        ("search.num_samples=0", "search.num_samples"),
        ("search.max_epochs=0", "search.max_epochs"),
        ("search.reduction_factor=1", "search.reduction_factor"),
        ("search.time_budget_s=0", "search.time_budget_s"),
        ("search.max_concurrent_trials=0", "search.max_concurrent_trials"),
        ("resources.cpus_per_trial=0", "resources.cpus_per_trial"),
        ("resources.gpus_per_trial=-1", "resources.gpus_per_trial"),
        ("name=a/b", "name"),
        ("name=.hidden", "name"),
    ],
)
def test_invalid_values_name_the_key(override: str, key: str) -> None:
    assert key in _error([*DIGITS, override])


def test_manual_search_needs_points() -> None:
    assert "search.manual" in _error([*DIGITS, "search.algorithm=manual"])
    config = load_config(
        overrides=[*DIGITS, "search.algorithm=manual", "search.manual=[{lr: 0.01}]"]
    )
    assert config.search.manual == [{"lr": 0.01}]


@pytest.mark.parametrize("path_shape", ["1", "1,2,3,4"])
def test_image_shape_rank(path_shape: str) -> None:
    message = _error(["data.path=x.csv", f"data.image_shape={path_shape}"])
    assert "data.image_shape" in message


@pytest.mark.parametrize("item", ["search.num_samples", "=5", " =5"])
def test_malformed_set(item: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_overrides([item])
    assert repr(item) in str(info.value)
    assert "key=value" in str(info.value)
    with pytest.raises(ConfigError):
        load_config(overrides=[*DIGITS, item])


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    message = _error(DIGITS, missing)
    assert str(missing) in message and "not found" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "data:\n  dataset: digits\n  path: [unclosed\n")
    message = _error([], path)
    assert str(path) in message and "not valid YAML" in message


def test_yaml_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- a\n- b\n")
    assert "top level" in _error([], path)


# -- search-space distributions ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        (32, Constant(32)),
        ("relu", Constant("relu")),
        (None, Constant(None)),
        (["before", "after"], Choice(("before", "after"))),
        ((1, 2, 3), Choice((1, 2, 3))),
        (["only"], Constant("only")),
        ({"choice": [8, 16]}, Choice((8, 16))),
        ({"choice": [8]}, Constant(8)),
        ({"uniform": [0.0, 0.5]}, Uniform(0.0, 0.5)),
        ({"loguniform": [1.0e-4, 1.0e-2]}, LogUniform(1.0e-4, 1.0e-2)),
        ({"loguniform": ["1e-4", "1e-2"]}, LogUniform(1.0e-4, 1.0e-2)),
        ({"randint": [1, 4]}, IntUniform(1, 4)),
        ({"randint": [1.0, 4.0]}, IntUniform(1, 4)),
    ],
)
def test_parse_dist_forms(raw: object, expected: object) -> None:
    dist = parse_dist("search.space.x", raw)
    assert dist == expected
    assert type(dist) is type(expected)


def test_parse_dist_passes_dists_through() -> None:
    dist = LogUniform(1e-3, 1e-1)
    assert parse_dist("lr", dist) is dist


@pytest.mark.parametrize(
    "raw",
    [
        32,
        ["a", "b"],
        {"uniform": [0.0, 0.5]},
        {"loguniform": [1.0e-4, 1.0e-2]},
        {"randint": [1, 4]},
    ],
)
def test_dist_to_plain_round_trip(raw: object) -> None:
    dist = parse_dist("x", raw)
    assert parse_dist("x", dist_to_plain(dist)) == dist


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"uniform": [1.0, 0.0]}, "low < high"),
        ({"uniform": [0.5, 0.5]}, "low < high"),
        ({"uniform": [0.0]}, "[low, high]"),
        ({"uniform": 0.5}, "[low, high]"),
        ({"uniform": ["a", 1]}, "numbers"),
        ({"uniform": [0.0, float("inf")]}, "finite"),
        ({"loguniform": [0.0, 1.0]}, "low > 0"),
        ({"loguniform": [-1.0, 1.0]}, "low > 0"),
        ({"randint": [1.5, 4]}, "integers"),
        ({"choice": []}, "non-empty"),
        ([], "non-empty"),
        ({"choice": 3}, "non-empty"),
        ({"normal": [0, 1]}, "a distribution is one of"),
        ({"uniform": [0, 1], "choice": [1, 2]}, "a distribution is one of"),
    ],
)
def test_parse_dist_errors_name_the_key(raw: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_dist("search.space.lr", raw)
    message = str(info.value)
    assert message.startswith("search.space.lr:"), message
    assert fragment in message


@pytest.mark.parametrize("override", ["search.time_budget_s=1e3", "data.val_fraction=1e-1"])
def test_exponent_without_dot_is_a_number(override: str) -> None:
    config = load_config(overrides=[*DIGITS, override])
    assert config.search.time_budget_s in ("auto", 1000.0)
    assert config.data.val_fraction in (0.1, 0.2)


@pytest.mark.parametrize("override", ["data.image_shape=1,28,x", "data.image_shape=1,,28"])
def test_image_shape_with_a_bad_part_is_an_error(override: str) -> None:
    with pytest.raises(ConfigError, match="data.image_shape"):
        load_config(overrides=["data.path=x.csv", "data.label=y", override])


@pytest.mark.parametrize("override", ["data.label=y", "data.image_shape=1,8,8"])
def test_path_only_keys_are_refused_with_a_bundled_dataset(override: str) -> None:
    with pytest.raises(ConfigError, match="applies to data.path only"):
        load_config(overrides=[*DIGITS, override])


@pytest.mark.parametrize(
    "example", sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
)
def test_every_example_config_loads(example: Path) -> None:
    assert load_config(example).data.dataset is not None
