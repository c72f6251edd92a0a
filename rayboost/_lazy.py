"""Lazy package exports (PEP 562): a name is imported from its module on first use.

A Ray Tune trial process imports only what the trial needs (torch, Ray Tune and rayboost's
trainer), not scikit-learn, XGBoost, HyperOpt or pandas: a fresh trial worker starts seconds
sooner, which is most of Tune's fixed cost per experiment on a small machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a name to its module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
