"""``rayboost`` command line: run, results."""

from __future__ import annotations

import argparse
import faulthandler
import sys
from pathlib import Path
from typing import Any

from rayboost._errors import RayboostError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rayboost", description="Tune nets on Ray and query the results."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the pipeline: tune nets, select on validation, score on test once"
    )
    run.add_argument("config", nargs="?", help="YAML config file (optional)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set search.num_samples=8 (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--resume",
        action="store_true",
        help="restore-or-start: continue an experiment of the same name if there is one",
    )
    run.add_argument(
        "--stage",
        choices=["all", "tune", "ensemble"],
        default="all",
        help="run one stage only (the ensemble stage needs a tuned experiment)",
    )

    res = sub.add_parser("resume", help="continue an interrupted experiment (or raise its budget)")
    res.add_argument("name")
    res.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="e.g. --set search.num_samples=32 to add trials",
    )
    res.add_argument("--storage", default=None)
    res.add_argument("--quiet", action="store_true")

    results = sub.add_parser("results", help="print an experiment's results")
    results.add_argument("name", nargs="?", help="experiment name (omit with --table experiments)")
    results.add_argument(
        "--table",
        choices=["trials", "epochs", "members", "xgboost", "experiments", "summary"],
        default=None,
    )
    results.add_argument("--format", choices=["table", "csv", "json"], default="table")
    results.add_argument(
        "--storage",
        default=None,
        help="storage folder (default $RAYBOOST_STORAGE or ~/rayboost_results)",
    )

    submit = sub.add_parser("submit", help="submit the pipeline as a Ray job to a cluster")
    submit.add_argument("config", nargs="?", help="YAML config file (optional)")
    submit.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    submit.add_argument(
        "--address",
        default=None,
        help="Jobs API, e.g. http://127.0.0.1:8265 (default $RAY_ADDRESS)",
    )
    submit.add_argument("--stage", choices=["all", "tune", "ensemble"], default="all")
    submit.add_argument("--follow", action="store_true", help="stream the job's logs until it ends")
    submit.add_argument(
        "--no-working-dir",
        action="store_true",
        help="do not upload this checkout: rayboost is installed on the cluster",
    )

    jobs = sub.add_parser("jobs", help="list, inspect, follow or stop Ray jobs")
    jobs.add_argument("action", choices=["list", "status", "logs", "stop"])
    jobs.add_argument("job_id", nargs="?")
    jobs.add_argument("--address", default=None)
    jobs.add_argument("--follow", action="store_true")
    jobs.add_argument("--format", choices=["table", "csv", "json"], default="table")

    ens = sub.add_parser(
        "ensemble", help="re-fit an experiment's ensemble weights (no trial is retrained)"
    )
    ens.add_argument("name")
    ens.add_argument(
        "--method",
        choices=["bagged", "greedy", "optimize", "uniform", "weights"],
        default=None,
        help="default: the experiment's ensemble.method",
    )
    ens.add_argument(
        "--calibrate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="temperature-scale classification members (default: the experiment's ensemble.calibrate)",
    )
    ens.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hand back members trained again on train + validation rows "
        "(default: the experiment's ensemble.refit)",
    )
    ens.add_argument(
        "--weights",
        default=None,
        metavar="MEMBER=W,...",
        help="with --method weights, e.g. net_1=0.5,xgboost=0.3,linear=0.2",
    )
    ens.add_argument("--storage", default=None)

    pred = sub.add_parser("predict", help="predict new rows with an experiment's ensemble")
    pred.add_argument("name")
    pred.add_argument(
        "data", help="CSV, Parquet or NPZ with the training feature columns (or pixels)"
    )
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
            raise RayboostError(
                f"--weights {text!r}: expected MEMBER=WEIGHT pairs such as net_1=0.5,xgboost=0.5"
            )
    return weights


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from rayboost._pipeline import reweight
    from rayboost.results import format_summary, render

    weights = _parse_weights(args.weights)
    if (args.method == "weights") != (weights is not None):
        raise RayboostError(
            "--weights goes with --method weights (and that method needs --weights)"
        )
    experiment = reweight(args.name, args.storage, args.method, weights, args.calibrate, args.refit)
    print(render(experiment.members()))
    print(format_summary(experiment.summary()))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from rayboost.data import load_features
    from rayboost.results import load

    experiment = load(args.name, args.storage)
    meta = experiment.meta
    encoder = experiment.encoder()
    X = load_features(
        args.data,
        tuple(meta["input_shape"]),
        meta.get("feature_names"),
        meta.get("label"),
        encoder,
    )
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
    from rayboost._pipeline import STAGES, run
    from rayboost.config import load_config

    config = load_config(
        args.config, args.overrides, base=_submitted_config() if args.config is None else None
    )
    stages = STAGES if args.stage == "all" else (args.stage,)
    experiment = run(config, verbose=not args.quiet, resume=args.resume, stages=stages)
    _report(experiment)
    return 0


def _submitted_config() -> dict[str, Any] | None:
    """The resolved config a submitted job carries in its environment (see ``rayboost submit``)."""
    import yaml

    from rayboost._env import config_yaml

    text = config_yaml()
    return yaml.safe_load(text) if text else None


def _cmd_submit(args: argparse.Namespace) -> int:
    import dataclasses
    from datetime import datetime

    import yaml

    from rayboost import tuning
    from rayboost.config import config_to_dict, load_config

    config = load_config(args.config, args.overrides)  # bad keys fail here, before anything is sent
    if config.name is None:
        stem = config.data.dataset or Path(config.data.path or "data").stem
        config = dataclasses.replace(
            config, name=f"{stem}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        )
    working_dir = None if args.no_working_dir else tuning.source_root()
    extra = ["--stage", args.stage] if args.stage != "all" else []
    text = yaml.safe_dump(config_to_dict(config), sort_keys=False)
    job_id = tuning.submit_job(args.address, config.name, text, working_dir, extra)
    print(job_id)
    print(
        f"experiment {config.name}: follow with `rayboost jobs logs {job_id} --follow`; resubmitting the same "
        f"config with --set name={config.name} resumes it",
        file=sys.stderr,
    )
    if args.follow:
        tuning.job_logs(args.address, job_id, follow=True)
        status = tuning.wait_job(args.address, job_id)
        print(f"job {job_id}: {status}", file=sys.stderr)
        return 0 if status == "SUCCEEDED" else 1
    return 0


_CELL_CHARS = 60


def _one_line(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def _compact_jobs(jobs: Any) -> Any:
    """The jobs table for a terminal: times in UTC to the second, each text cell on one short line
    (``--format csv`` or ``json`` keep the full entrypoint and message)."""
    import pandas as pd

    jobs = jobs.copy()
    for column in ("start_time", "end_time"):
        if column in jobs:  # Ray gives milliseconds since the epoch
            stamps = pd.to_datetime(jobs[column], unit="ms", utc=True, errors="coerce")
            jobs[column] = stamps.dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
    for column in ("entrypoint", "message"):
        if column in jobs:
            jobs[column] = jobs[column].map(_one_line)
    return jobs


def _cmd_jobs(args: argparse.Namespace) -> int:
    import pandas as pd

    from rayboost import tuning
    from rayboost.results import render

    if args.action != "list" and not args.job_id:
        raise RayboostError(
            f"rayboost jobs {args.action} needs a JOB_ID; list them with `rayboost jobs list`"
        )
    if args.action == "list":
        jobs = pd.DataFrame(tuning.list_jobs(args.address))
        print(render(_compact_jobs(jobs) if args.format == "table" else jobs, args.format))
    elif args.action == "status":
        print(render(pd.DataFrame([tuning.job_status(args.address, args.job_id)]), args.format))
    elif args.action == "logs":
        tuning.job_logs(args.address, args.job_id, follow=args.follow)
    else:
        stopped = tuning.stop_job(args.address, args.job_id)
        print(f"job {args.job_id}: {'stop requested' if stopped else 'already finished'}")
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from rayboost._pipeline import resume

    _report(resume(args.name, args.storage, args.overrides, verbose=not args.quiet))
    return 0


def _report(experiment: Any) -> None:
    from rayboost.results import format_summary, leaderboard, render

    summary = experiment.summary()
    print()
    print(f"Leaderboard ({experiment.name}, validation split):")
    print(render(leaderboard(experiment.trials(), experiment.metric, experiment.mode)))
    if experiment.paths.ensemble.exists() and summary.get("ensemble"):
        print()
        print(
            f"Ensemble members ({summary['ensemble']['method']} weights fit on validation; scored once on test):"
        )
        print(render(experiment.members()))
    print()
    print(format_summary(summary))
    print(f"results: rayboost results {experiment.name} --storage {experiment.paths.root.parent}")


def _cmd_results(args: argparse.Namespace) -> int:
    import json

    from rayboost.results import experiments, load, render

    table = args.table or ("trials" if args.name else "experiments")
    if table == "experiments":
        print(render(experiments(args.storage), args.format))
        return 0
    if not args.name:
        raise RayboostError(
            f"--table {table} needs an experiment NAME; list them with: rayboost results --table experiments"
        )
    experiment = load(args.name, args.storage)
    if table == "summary":
        print(json.dumps(experiment.summary(), indent=2, default=str))
        return 0
    frames = {
        "trials": experiment.trials,
        "epochs": experiment.epochs,
        "members": experiment.members,
        "xgboost": experiment.xgboost_trials,
    }
    frame = frames[table]()
    print(render(frame, args.format))
    return 0


def main(argv: list[str] | None = None) -> int:
    if not faulthandler.is_enabled():  # a crash in native code (torch, XGBoost) shows where
        try:
            faulthandler.enable()
        except (OSError, ValueError, AttributeError):  # a stderr without a file (captured)
            pass
    args = _parser().parse_args(argv)
    try:
        commands = {
            "run": _cmd_run,
            "resume": _cmd_resume,
            "results": _cmd_results,
            "ensemble": _cmd_ensemble,
            "predict": _cmd_predict,
            "submit": _cmd_submit,
            "jobs": _cmd_jobs,
        }
        return commands[args.command](args)
    except RayboostError as exc:
        print(f"rayboost: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "rayboost: interrupted; finished trials are kept in the experiment folder",
            file=sys.stderr,
        )
        return 130
