"""``rayboost`` command line: run, results."""

from __future__ import annotations

import argparse
import sys

from rayboost._errors import RayboostError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rayboost", description="Tune nets on Ray and query the results.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the pipeline: tune nets, select on validation, score on test once")
    run.add_argument("config", nargs="?", help="YAML config file (optional)")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set search.num_samples=8 (repeatable)")  # fmt: skip
    run.add_argument("--quiet", action="store_true", help="no progress lines")

    results = sub.add_parser("results", help="print an experiment's results")
    results.add_argument("name", nargs="?", help="experiment name (omit with --table experiments)")
    results.add_argument("--table", choices=["trials", "epochs", "experiments", "summary"], default=None)
    results.add_argument("--format", choices=["table", "csv", "json"], default="table")
    results.add_argument("--storage", default=None, help="storage folder (default $RAYBOOST_STORAGE or ~/rayboost_results)")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from rayboost._pipeline import run
    from rayboost.config import load_config
    from rayboost.results import format_summary, leaderboard, render

    config = load_config(args.config, args.overrides)
    experiment = run(config, verbose=not args.quiet)
    summary = experiment.summary()
    print()
    print(f"Leaderboard ({experiment.name}, validation split):")
    print(render(leaderboard(experiment.trials(), experiment.metric, experiment.mode)))
    print()
    print(format_summary(summary))
    print(f"results: rayboost results {experiment.name} --storage {experiment.paths.root.parent}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    import json

    from rayboost.results import experiments, load, render

    table = args.table or ("trials" if args.name else "experiments")
    if table == "experiments":
        print(render(experiments(args.storage), args.format))
        return 0
    if not args.name:
        raise RayboostError(f"--table {table} needs an experiment NAME; list them with: rayboost results --table experiments")
    experiment = load(args.name, args.storage)
    if table == "summary":
        print(json.dumps(experiment.summary(), indent=2, default=str))
        return 0
    frame = experiment.trials() if table == "trials" else experiment.epochs()
    print(render(frame, args.format))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _cmd_run(args)
        return _cmd_results(args)
    except RayboostError as exc:
        print(f"rayboost: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rayboost: interrupted; finished trials are kept in the experiment folder", file=sys.stderr)
        return 130
