"""AutoGluon's side of the ``autogluon`` benchmark entry: run by the AutoGluon venv's Python as
``python -I _autogluon_fit.py JOB.json`` (``-I``: this folder is not on ``sys.path``, where
``autogluon.py`` would shadow the real package, and no PYTHON* variables leak in).

Reads ``train.parquet``, ``val.parquet`` and ``test.parquet`` (feature columns and ``label``)
from the job's folder, fits ``TabularPredictor`` with the preset and time limit the job names,
and writes into that folder ``pred.npy`` (test class probabilities in the job's class order,
or the regression predictions), ``pred_label.npy`` (``predict()``'s class, as an index into the
job's classes) and ``result.json`` (fit wall time, leaderboard, versions). Imports nothing from
rayboost: the scores are computed by the benchmark, with rayboost's own definitions.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(job_path: str) -> None:
    start = time.perf_counter()
    job = json.loads(Path(job_path).read_text())
    folder = Path(job["folder"])

    import numpy as np
    import pandas as pd
    from autogluon.tabular import TabularPredictor
    from autogluon.tabular import __version__ as ag_version

    train = pd.read_parquet(folder / "train.parquet")
    val = pd.read_parquet(folder / "val.parquet")
    test = pd.read_parquet(folder / "test.parquet")
    imported_s = time.perf_counter() - start

    t0 = time.perf_counter()
    predictor = TabularPredictor(
        label="label",
        problem_type=job["problem_type"],
        eval_metric=job["eval_metric"],
        path=str(folder / "ag_models"),
        verbosity=0,
    ).fit(
        train,
        tuning_data=val,
        presets=job["presets"],
        time_limit=job["time_limit"],
        num_cpus=job["num_cpus"],
        num_gpus=0,
    )
    fit_s = time.perf_counter() - t0

    X_test = test.drop(columns=["label"])
    t0 = time.perf_counter()
    if job["problem_type"] == "regression":
        pred = predictor.predict(X_test).to_numpy(dtype=np.float64)
        np.save(folder / "pred.npy", pred)
    else:
        classes = job["classes"]
        proba = predictor.predict_proba(X_test, as_multiclass=True)
        missing = [c for c in classes if c not in proba.columns]
        # a class AutoGluon never saw gets probability 0 (cannot happen with a stratified split)
        proba = proba.reindex(columns=classes, fill_value=0.0).to_numpy(dtype=np.float64)
        labels = predictor.predict(X_test).tolist()
        index = {c: i for i, c in enumerate(classes)}
        np.save(folder / "pred.npy", proba)
        np.save(folder / "pred_label.npy", np.asarray([index[c] for c in labels], dtype=np.int64))
    predict_s = time.perf_counter() - t0

    board = predictor.leaderboard(silent=True)
    keep = [
        c for c in ("model", "score_val", "fit_time", "pred_time_val", "stack_level") if c in board
    ]
    result = {
        "autogluon_version": ag_version,
        "torch_version": _version("torch"),
        "fit_s": fit_s,
        "predict_s": predict_s,
        "import_and_read_s": imported_s,
        "model_best": predictor.model_best,
        "models": board["model"].tolist(),
        "leaderboard": json.loads(board[keep].to_json(orient="records")),
        "missing_classes": [] if job["problem_type"] == "regression" else missing,
        "time_limit": job["time_limit"],
        "presets": job["presets"],
        "num_cpus": job["num_cpus"],
    }
    (folder / "result.json").write_text(json.dumps(result, indent=1, default=str) + "\n")


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main(sys.argv[1])
