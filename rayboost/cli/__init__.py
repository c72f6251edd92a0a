"""Command line entry point (``rayboost``)."""

from rayboost.cli._main import main

__all__ = ["main"]
