"""Config: typed records loaded from YAML and ``--set`` overrides; search-space distributions."""

from rayboost.config._load import (
    check_grace_period,
    config_from_dict,
    config_to_dict,
    load_config,
    parse_overrides,
    read_stored_config,
)
from rayboost.config._schema import (
    Config,
    DataConfig,
    EnsembleConfig,
    ModelConfig,
    RayConfig,
    ResourcesConfig,
    SearchConfig,
)
from rayboost.config._space import (
    Choice,
    Constant,
    Dist,
    IntUniform,
    LogUniform,
    Uniform,
    dist_to_plain,
    parse_dist,
)

__all__ = [
    "check_grace_period",
    "Choice",
    "Config",
    "Constant",
    "DataConfig",
    "EnsembleConfig",
    "Dist",
    "IntUniform",
    "LogUniform",
    "ModelConfig",
    "RayConfig",
    "ResourcesConfig",
    "SearchConfig",
    "Uniform",
    "config_from_dict",
    "config_to_dict",
    "dist_to_plain",
    "load_config",
    "parse_dist",
    "parse_overrides",
    "read_stored_config",
]
