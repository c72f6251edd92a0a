"""rayboost: tune PyTorch nets on Ray and ensemble them with XGBoost and linear models."""

from rayboost._errors import (
    ConfigError,
    DataError,
    ExperimentError,
    RayboostError,
    ResourceError,
)

__version__ = "0.1.0"

from rayboost.results import Experiment, experiments, load  # noqa: E402


def run(config=None, overrides=None, verbose=True):  # type: ignore[no-untyped-def]
    """Run the pipeline (see :func:`rayboost._pipeline.run`); imports Ray and torch lazily."""
    from rayboost._pipeline import run as _run

    return _run(config, overrides, verbose)


__all__ = [
    "ConfigError",
    "Experiment",
    "DataError",
    "ExperimentError",
    "RayboostError",
    "ResourceError",
    "experiments",
    "load",
    "run",
    "__version__",
]
