"""rayboost's benchmark suite: speed and quality claims, measured (``python -m benchmarks``).

One module per comparison (overhead, asha, search, sepconv, batchnorm, ensemble, autogluon,
tables, nets, gpu); each has ``run(quick: bool) -> dict`` returning ``{"metrics", "goals", "details"}``.
See ``benchmarks/README.md`` for what each entry times and why.
"""

from __future__ import annotations

import os

# Local Ray only: no token auth (a token file may exist in ~/.ray), no usage stats.
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"

ENTRIES = (
    "overhead",
    "asha",
    "search",
    "sepconv",
    "batchnorm",
    "ensemble",
    "autogluon",
    "tables",
    "nets",
    "gpu",
)
