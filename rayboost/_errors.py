"""One exception hierarchy for everything a user can get wrong."""

from __future__ import annotations

__all__ = [
    "RayboostError",
    "ConfigError",
    "DataError",
    "ExperimentError",
    "ResourceError",
    "StorageFullError",
]


class RayboostError(Exception):
    """Base class: the message is one line that says what is wrong and what to do."""


class ConfigError(RayboostError, ValueError):
    """A config key is unknown or its value is invalid."""


class DataError(RayboostError, ValueError):
    """The input data cannot be used as given."""


class ExperimentError(RayboostError):
    """An experiment is missing, incomplete or would be overwritten."""


class ResourceError(RayboostError):
    """A resource request that no node of the cluster can satisfy."""


class StorageFullError(ExperimentError):
    """The experiment store ran out of space (or quota); the experiment can be resumed."""
