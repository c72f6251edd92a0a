"""rayboost: tune PyTorch nets on Ray and ensemble them with XGBoost and linear models."""

from rayboost._errors import (
    ConfigError,
    DataError,
    ExperimentError,
    RayboostError,
    ResourceError,
)

__version__ = "0.1.0"

from typing import TYPE_CHECKING  # noqa: E402

from rayboost._lazy import lazy_exports  # noqa: E402

if TYPE_CHECKING:
    from rayboost.results import Experiment, experiments, load

# pandas and the results readers load on first use: a trial process never needs them
__getattr__, __dir__ = lazy_exports(
    __name__,
    {name: "rayboost.results" for name in ("Experiment", "experiments", "load")},
    globals(),
)


def run(config=None, overrides=None, verbose=True, resume=False, stages=("tune", "ensemble")):  # type: ignore[no-untyped-def]
    """Run the pipeline (see :func:`rayboost._pipeline.run`); imports Ray and torch lazily."""
    from rayboost._pipeline import run as _run

    return _run(config, overrides, verbose, resume, tuple(stages))


def resume(name, storage=None, overrides=None, verbose=True):  # type: ignore[no-untyped-def]
    """Continue an interrupted experiment, or raise its budget (``["search.num_samples=32"]``)."""
    from rayboost._pipeline import resume as _resume

    return _resume(name, storage, overrides, verbose)


def reweight(name, storage=None, method=None, weights=None, calibrate=None, refit=None):  # type: ignore[no-untyped-def]
    """Fit an experiment's ensemble again on its stored members, no trial retrained (see
    :func:`rayboost._pipeline.reweight`): another ``method``, user ``weights``, ``calibrate``
    on or off, ``refit`` on or off (default: the experiment's config; a member that newly carries
    weight is refit on train + validation in this process). The previous ensemble goes to its
    history."""
    from rayboost._pipeline import reweight as _reweight

    return _reweight(name, storage, method, weights, calibrate, refit)


__all__ = [
    "ConfigError",
    "Experiment",
    "DataError",
    "ExperimentError",
    "RayboostError",
    "ResourceError",
    "experiments",
    "load",
    "resume",
    "reweight",
    "run",
    "__version__",
]
