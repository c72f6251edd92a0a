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
    results.add_argument("--table", choices=["trials", "epochs", "members", "experiments", "summary"], default=None)
    results.add_argument("--format", choices=["table", "csv", "json"], default="table")
    results.add_argument("--storage", default=None, help="storage folder (default $RAYBOOST_STORAGE or ~/rayboost_results)")

    ens = sub.add_parser("ensemble", help="re-fit an experiment's ensemble weights (nothing is retrained)")
    ens.add_argument("name")
    ens.add_argument("--method", choices=["greedy", "optimize", "uniform", "weights"], default="greedy")
    ens.add_argument("--weights", default=None, metavar="MEMBER=W,...",
                     help="with --method weights, e.g. net_1=0.5,xgboost=0.3,linear=0.2")  # fmt: skip
    ens.add_argument("--storage", default=None)

    pred = sub.add_parser("predict", help="predict new rows with an experiment's ensemble")
    pred.add_argument("name")
    pred.add_argument("data", help="CSV, Parquet or NPZ with the training feature columns (or pixels)")
    pred.add_argument("--output", default=None, help="CSV to write (default: standard output)")
    pred.add_argument("--storage", default=None)
    return parser


def _parse_weights(text: str | None) -> dict[str, float] | None:
    if text is None:
        return None
    weights = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise RayboostError(f"--weights {text!r}: expected MEMBER=WEIGHT pairs such as net_1=0.5,xgboost=0.5")
    return weights


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from rayboost._pipeline import reweight
    from rayboost.results import format_summary, render

    weights = _parse_weights(args.weights)
    if (args.method == "weights") != (weights is not None):
        raise RayboostError("--weights goes with --method weights (and that method needs --weights)")
    experiment = reweight(args.name, args.storage, args.method, weights)
    print(render(experiment.members()))
    print(format_summary(experiment.summary()))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from rayboost.data import load_features
    from rayboost.results import load

    experiment = load(args.name, args.storage)
    meta = experiment.meta
    X = load_features(args.data, tuple(meta["input_shape"]), meta.get("feature_names"), meta.get("label"))
    model = experiment.ensemble()
    frame = pd.DataFrame({"prediction": model.predict(X)})
    if model.task_ == "classification":
        proba = model.predict_proba(X)
        for i, cls in enumerate(model.classes_):
            frame[f"proba_{cls}"] = proba[:, i]
    if args.output:
        frame.to_csv(args.output, index=False)
        print(f"wrote {len(frame)} predictions to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(frame.to_csv(index=False))
    return 0


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
    if experiment.paths.ensemble.exists():
        print()
        print(f"Ensemble members ({summary['ensemble']['method']} weights fit on validation; scored once on test):")
        print(render(experiment.members()))
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
    frames = {"trials": experiment.trials, "epochs": experiment.epochs, "members": experiment.members}
    frame = frames[table]()
    print(render(frame, args.format))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {"run": _cmd_run, "results": _cmd_results, "ensemble": _cmd_ensemble, "predict": _cmd_predict}
        return commands[args.command](args)
    except RayboostError as exc:
        print(f"rayboost: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rayboost: interrupted; finished trials are kept in the experiment folder", file=sys.stderr)
        return 130
