"""``experiment.json``: what an experiment is and how far it got, as one typed record, read and
written here only."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rayboost._io import read_json, write_json_atomic
from rayboost._layout import ExperimentPaths

__all__ = ["STAGES", "STATUSES", "ExperimentMeta", "now"]

STAGES = ("tune", "ensemble")
STATUSES = ("running", "completed", "partial", "failed", "interrupted")
"""As stored; readers also show ``died`` (see :func:`rayboost.results.live_status`)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ExperimentMeta:
    name: str
    status: str
    created_at: str
    rayboost_version: str
    dataset: str
    task: str
    family: str
    metric: str
    mode: str
    classes: list[Any] | None
    label: str | None
    input_shape: list[int]
    feature_names: list[str] | None
    stages: dict[str, bool] = field(default_factory=lambda: {s: False for s in STAGES})
    error: str | None = None
    finished_at: str | None = None
    tuned_samples: int | None = None  # None: as many trials as the time budget allowed
    tune_trial_ids: list[str] | None = None  # every trial Tune ran, once the tune stage is done
    extra: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as read

    @classmethod
    def read(cls, paths: ExperimentPaths) -> ExperimentMeta:
        raw = dict(read_json(paths.meta))
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in raw.items() if k in names}
        return cls(**known, extra={k: v for k, v in raw.items() if k not in names})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**self.extra, **out}

    def write(self, paths: ExperimentPaths) -> ExperimentMeta:
        write_json_atomic(paths.meta, self.to_dict())
        return self

    def update(self, paths: ExperimentPaths, **changes: Any) -> ExperimentMeta:
        """A copy with ``changes``, written."""
        return dataclasses.replace(self, **changes).write(paths)

    def done(self, stage: str) -> bool:
        return bool(self.stages.get(stage))
