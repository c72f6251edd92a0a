"""rayboost's default pipeline vs AutoGluon-Tabular (``presets="medium_quality"``): same rows,
same wall-clock budget.

For each dataset and seed, one side after the other (never both at once on the 2 cores):

1. ``rayboost.run`` with every default (time budget ``auto``, HyperOpt + ASHA, ensemble); only
   the data, seed, storage and name are set. Timed end to end (``rayboost_wall_s``). Recorded:
   the test scores of the ensemble handed back (``exp.members()``, row ``ensemble``: accuracy
   and log loss, or RMSE; ``refit_test_*`` when its members were refit on train + validation)
   and the validation-selected net's (``exp.summary()["test"]``).
2. The experiment's own ``split.json`` gives the train/validation/test row indices; the same
   dataset is loaded again (raw features, not scaled; its fingerprint is checked against the
   split's) and written as ``train/val/test.parquet`` (features flattened to columns, the class
   label or target in ``label``). A mixed-type table (penguins, mixed) is written as read: its
   own columns, text, booleans and ISO dates as they are in the file, empty cells kept, the
   identifier column too (AutoGluon drops such columns itself, as rayboost does), never
   rayboost's encoded matrix: each side types and encodes the table its own way.
3. AutoGluon runs in its own virtualenv (it pins an older Ray than rayboost's, so it cannot
   share rayboost's venv) as a subprocess (``_autogluon_fit.py``):
   ``TabularPredictor(label="label", problem_type=binary|multiclass|regression,
   eval_metric="accuracy"|"root_mean_squared_error", verbosity=0).fit(train,
   tuning_data=val, presets="medium_quality", time_limit=<rayboost's wall seconds for the same
   dataset and seed>, num_cpus=2, num_gpus=0)``, with OMP/MKL/OpenBLAS threads set to 2 (the
   whole machine, as rayboost's Ray had). Nothing else is set: ``medium_quality`` does not bag
   or stack (``auto_stack=False``), so the validation rows are AutoGluon's holdout for early
   stopping and for its weighted ensemble, as they are rayboost's; ``use_bag_holdout`` and
   ``num_bag_folds`` are left at their defaults (no bagging). Then ``predict`` and
   ``predict_proba`` on the test rows (probability columns put in the dataset's class order).
   ``autogluon_fit_s`` is the wall time of ``fit()`` alone, measured in the subprocess;
   ``details`` also has the subprocess's whole wall time (imports, fit, prediction). AutoGluon
   treats ``time_limit`` as a target: it skips models it has no time left for, stops early
   when every model is fitted (small data: well under the limit), and can run a few seconds
   over it.

Both sides are scored by the benchmark with ``rayboost.ensemble.score`` (accuracy = argmax,
log loss = mean −ln p(true class) with p clipped at 1e-15, RMSE); AutoGluon's accuracy is that of
``predict()`` (the argmax accuracy of its probabilities is in details). AutoGluon picks its
models and ensemble weights on ``eval_metric`` (accuracy), not on log loss.

  minus_autogluon_pts          classification: (rayboost ensemble − AutoGluon) test accuracy
                               × 100; diabetes: AutoGluon RMSE − rayboost ensemble RMSE
                               (positive = rayboost better)
  logloss_ratio_vs_autogluon   rayboost ensemble test log loss / AutoGluon's (classification)

plus each side's test accuracy, log loss or RMSE, the selected net's, and both wall times.
Medians over seeds 0-4 per dataset: the bundled digits, breast_cancer and diabetes, 5,000
28×28 images from ``examples/make_pixel_csv.py`` ("pixels", 784 pixel columns), and two
mixed-type tables: the bundled penguins (344 rows; island and sex as text, measurements with
empty cells; label species) and 5,000 rows from ``examples/make_mixed_csv.py`` ("mixed":
customers with text columns of 3 to 50 levels, a boolean, an ISO signup date, numbers, an
identifier, empty cells in a text, the boolean and a number; label churned).
``--quick``: digits, seed 0, with ``search.time_budget_s=15``, ``search.max_epochs=3``.
``RAYBOOST_BENCH_AUTOGLUON_DATASETS`` (comma-separated names) and
``RAYBOOST_BENCH_AUTOGLUON_SEEDS`` (comma-separated integers) run a subset, e.g. only the
mixed-type tables; each dataset and seed prints one line as it finishes.

The AutoGluon venv: ``autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3`` after
``torch==2.13.0`` (1.6.3 admits torch >=2.10,<2.14; 2.13.0 is rayboost's torch, a CPU wheel
here), without ``[ray]`` (only needed for parallel bagging, which medium_quality does not do).
So every model of the preset's default set can run: LightGBM (3 configs), CatBoost, XGBoost,
NN_TORCH, FastAI, RandomForest and ExtraTrees (2 configs each for classification, 1 for
regression), then AutoGluon's weighted ensemble. Made by this entry on first use (63 s here,
where the torch wheel is on local disk; 2.2 GB; not in any timing) under
``~/.cache/rayboost-bench/autogluon-1.6.3`` (``RAYBOOST_BENCH_AUTOGLUON_VENV`` overrides),
reused while its marker file names the same packages; a failed install fails the entry with one
line (the pip log is kept next to the venv).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    MIXED_ROWS,
    PIXEL_ROWS,
    data_overrides,
    goal,
    load_average,
    load_data,
    median,
    ray_session,
    rnd,
    run_rayboost,
    storage_dir,
)

DATASETS = ("digits", "breast_cancer", "diabetes", "pixels", "penguins", "mixed")
SEEDS = (0, 1, 2, 3, 4)
DATASETS_ENV = "RAYBOOST_BENCH_AUTOGLUON_DATASETS"
SEEDS_ENV = "RAYBOOST_BENCH_AUTOGLUON_SEEDS"
QUICK_OVERRIDES = {"search.time_budget_s": 15, "search.max_epochs": 3}
PRESET = "medium_quality"
CPUS = 2  # rayboost's Ray gets 2 CPUs (ray_session); AutoGluon gets the same whole machine

AUTOGLUON_VERSION = "1.6.3"
TORCH_VERSION = "2.13.0"
EXTRAS = "lightgbm,catboost,xgboost,fastai"
INSTALL = (  # one pip call each, in this order: torch first, so AutoGluon keeps that wheel
    (f"torch=={TORCH_VERSION}",),
    (f"autogluon.tabular[{EXTRAS}]=={AUTOGLUON_VERSION}", "pyarrow"),
)
MARKER = ".rayboost-bench-complete"
FIT_SCRIPT = Path(__file__).resolve().parent / "_autogluon_fit.py"


# -- the AutoGluon venv ----------------------------------------------------------------------------
def venv_dir() -> Path:
    default = Path("~/.cache/rayboost-bench") / f"autogluon-{AUTOGLUON_VERSION}"
    return Path(os.environ.get("RAYBOOST_BENCH_AUTOGLUON_VENV", default)).expanduser()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _spec() -> str:
    return " + ".join(" ".join(step) for step in INSTALL)


def ensure_venv(venv: Path | None = None) -> dict[str, Any]:
    """The AutoGluon venv, made (venv + ``INSTALL``) unless a complete one is there already.

    Raises RuntimeError with one line when a step fails; pip's output goes to a log file next
    to the venv."""
    venv = venv or venv_dir()
    marker = venv / MARKER
    if marker.is_file() and marker.read_text().strip() == _spec() and venv_python(venv).exists():
        return {"path": str(venv), "created": False, **_versions(venv)}
    if venv.exists():  # a partial or outdated one of ours; anything else is left alone
        if any(venv.iterdir()) and not (venv / "pyvenv.cfg").is_file():
            raise RuntimeError(
                f"{venv} exists and is not a virtualenv; remove it or choose another path"
            )
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / f"{venv.name}-install.log"
    start = time.perf_counter()
    steps = [("python -m venv", [sys.executable, "-m", "venv", str(venv)])]
    pip = [
        str(venv_python(venv)),
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
    ]
    steps += [(f"pip install {' '.join(step)}", pip + list(step)) for step in INSTALL]
    with log.open("w") as out:
        for what, cmd in steps:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            rc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=_clean_env(), check=False
            ).returncode
            if rc != 0:
                raise RuntimeError(
                    f"cannot create the AutoGluon venv at {venv}: `{what}` exited {rc}; see {log}"
                )
    install_s = time.perf_counter() - start
    versions = _versions(venv)
    torch = (versions.get("torch") or "").split("+")[0]
    if versions.get("autogluon") != AUTOGLUON_VERSION or torch != TORCH_VERSION:
        raise RuntimeError(
            f"the AutoGluon venv at {venv} has autogluon {versions.get('autogluon')} + torch "
            f"{versions.get('torch')}, not {AUTOGLUON_VERSION} + {TORCH_VERSION}; see {log}"
        )
    marker.write_text(_spec() + "\n")
    return {"path": str(venv), "created": True, "install_s": round(install_s, 1), **versions}


def _versions(venv: Path) -> dict[str, Any]:
    code = (
        "import json, importlib.metadata as m\n"
        "def v(p):\n"
        "    try: return m.version(p)\n"
        "    except m.PackageNotFoundError: return None\n"
        "print(json.dumps({p: v(p) for p in ('autogluon.tabular', 'torch', 'lightgbm', 'catboost', "
        "'xgboost-cpu', 'xgboost', 'fastai', 'scikit-learn', 'pandas', 'numpy')}))"
    )
    try:
        out = subprocess.run(
            [str(venv_python(venv)), "-I", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env=_clean_env(),
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RuntimeError(f"the AutoGluon venv at {venv} is broken: {exc}") from None
    found = json.loads(out)
    return {"autogluon": found.pop("autogluon.tabular"), **found}


def _clean_env(threads: int | None = None) -> dict[str, str]:
    """This process's environment without rayboost's venv (and with ``threads`` per BLAS/OpenMP)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    return env


# -- data: the experiment's own rows, written for AutoGluon ----------------------------------------
def frame(ds: Any, rows: Any) -> Any:
    """``ds``'s ``rows`` as a table: one column per feature (images flattened), then ``label``
    (the original class label, or the regression target). A mixed-type table's rows are taken
    from ``ds.table``, the columns as read (text, booleans, dates as text, empty cells), not
    from rayboost's encoding of them."""
    import pandas as pd

    index = np.asarray(rows, dtype=np.int64)
    if getattr(ds, "table", None) is not None:
        table = ds.table.iloc[index].reset_index(drop=True)
        table.columns = [str(c) for c in table.columns]
        # plain object columns: the files are read by AutoGluon's pandas, which may be older
        text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
        table[text] = table[text].astype(object).where(table[text].notna(), None)
    else:
        X = np.asarray(ds.X)[index]
        X = X.reshape(len(X), -1)
        names = (
            list(ds.feature_names)
            if ds.feature_names and len(ds.feature_names) == X.shape[1]
            else None
        )
        table = pd.DataFrame(X, columns=names or [f"f{i}" for i in range(X.shape[1])])
    if "label" in table.columns:
        raise ValueError(f"{ds.name} has a feature named 'label'")
    y = np.asarray(ds.y)[index]
    table["label"] = (
        [ds.classes[i] for i in y] if ds.task == "classification" else y.astype(np.float64)
    )
    return table


def write_split(ds: Any, split: dict[str, Any], folder: Path) -> dict[str, Path]:
    """``train/val/test.parquet`` in ``folder`` from the row indices of a ``split.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for part in ("train", "val", "test"):
        paths[part] = folder / f"{part}.parquet"
        frame(ds, split[part]).to_parquet(paths[part], index=False)
    return paths


# -- scores ----------------------------------------------------------------------------------------
def side_scores(pred: np.ndarray, y: np.ndarray, task: str) -> dict[str, float]:
    """rayboost's own definitions (``rayboost.ensemble.score``): accuracy and log loss, or RMSE."""
    from rayboost.ensemble import score

    return score(np.asarray(pred, dtype=np.float64), np.asarray(y), task=task)


def compare(
    ours: dict[str, float | None], theirs: dict[str, float | None], task: str
) -> dict[str, float | None]:
    """``minus_autogluon_pts`` (positive = rayboost better) and, for classification, the
    log-loss ratio rayboost / AutoGluon."""
    if task == "regression":
        a, b = ours.get("rmse"), theirs.get("rmse")
        return {
            "minus_autogluon_pts": None if a is None or b is None else b - a,
            "logloss_ratio_vs_autogluon": None,
        }
    a, b = ours.get("accuracy"), theirs.get("accuracy")
    la, lb = ours.get("log_loss"), theirs.get("log_loss")
    return {
        "minus_autogluon_pts": None if a is None or b is None else 100 * (a - b),
        "logloss_ratio_vs_autogluon": None if la is None or not lb else la / lb,
    }


def _rayboost_scores(exp: Any) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """The ensemble's test scores (None when no ensemble was fitted) and the selected net's."""
    from rayboost import ExperimentError

    ensemble: dict[str, float | None] = {}
    try:
        members = exp.members()
        row = members[members["member"] == "ensemble"]
        if (
            not row.empty
        ):  # the ensemble handed back: its members refit on train + validation where they were
            final = "refit_test_" if "refit" in row and bool(row["refit"].iloc[0]) else "test_"
            ensemble = {
                k[len(final) :]: float(row[k].iloc[0])
                for k in (f"{final}accuracy", f"{final}log_loss", f"{final}rmse")
                if k in row and row[k].notna().iloc[0]
            }
    except ExperimentError:
        pass
    test = exp.summary().get("test") or {}
    selected = {k: float(v) for k, v in test.items() if isinstance(v, int | float)}
    return ensemble, selected


# -- AutoGluon ---------------------------------------------------------------------------------------
def run_autogluon(
    python: Path, ds: Any, split: dict[str, Any], folder: Path, time_limit: float
) -> dict[str, Any]:
    """Fit AutoGluon on the split's train rows (validation rows as tuning data) in a subprocess
    of its own venv, then score its test predictions; the model folder is deleted after."""
    write_split(ds, split, folder)
    classification = ds.task == "classification"
    if classification:
        problem_type = "binary" if len(ds.classes) == 2 else "multiclass"
    else:
        problem_type = "regression"
    job = {
        "folder": str(folder),
        "problem_type": problem_type,
        "eval_metric": "accuracy" if classification else "root_mean_squared_error",
        "presets": PRESET,
        "time_limit": float(time_limit),
        "num_cpus": CPUS,
        "classes": ds.classes,
    }
    (folder / "job.json").write_text(json.dumps(job))
    start = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-I", str(FIT_SCRIPT), str(folder / "job.json")],
        cwd=folder,
        env=_clean_env(threads=CPUS),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        raise RuntimeError(
            f"AutoGluon exited {proc.returncode}: {tail[-1] if tail else 'no output'}"
        )
    result = json.loads((folder / "result.json").read_text())
    y = np.asarray(ds.y)[np.asarray(split["test"], dtype=np.int64)]
    pred = np.load(folder / "pred.npy")
    scores = side_scores(pred, y, ds.task)
    if classification:
        scores["argmax_accuracy"] = scores["accuracy"]
        scores["accuracy"] = float(np.mean(np.load(folder / "pred_label.npy") == y))
    shutil.rmtree(folder / "ag_models", ignore_errors=True)
    return {**result, "scores": scores, "wall_s": wall}


# -- one dataset and seed --------------------------------------------------------------------------
def _one(
    storage: Path,
    python: Path,
    dataset: str,
    ds: Any,
    data: dict[str, Any],
    seed: int,
    extra: dict[str, Any],
) -> dict[str, Any]:
    name = f"autogluon-{dataset}-{seed}"
    load = {"before_rayboost": load_average()}
    exp, wall = run_rayboost(storage, name, {"seed": seed, **data, **extra})
    split = json.loads(exp.paths.split.read_text())
    if split["fingerprint"] != ds.fingerprint():
        raise RuntimeError(
            f"{dataset} seed {seed}: the reloaded data is not the data the run split"
        )
    ensemble, selected = _rayboost_scores(exp)
    load["before_autogluon"] = load_average()
    ag = run_autogluon(python, ds, split, storage / f"{name}-ag", wall)
    load["after"] = load_average()
    task = ds.task
    return {
        "seed": seed,
        "split_sizes": {k: len(split[k]) for k in ("train", "val", "test")},
        "rayboost": {
            "ensemble": {k: rnd(v, 5) for k, v in ensemble.items()},
            "selected_net": {k: rnd(v, 5) for k, v in selected.items()},
            "wall_s": rnd(wall, 2),
            "n_trials": exp.summary().get("n_trials"),
        },
        "autogluon": {
            **{k: rnd(v, 5) for k, v in ag["scores"].items()},
            "fit_s": rnd(ag["fit_s"], 2),
            "wall_s": rnd(ag["wall_s"], 2),
            "predict_s": rnd(ag["predict_s"], 2),
            "time_limit": rnd(ag["time_limit"], 2),
            "model_best": ag["model_best"],
            "models": ag["models"],
            "leaderboard": ag["leaderboard"],
        },
        **{k: rnd(v, 4) for k, v in compare(ensemble, ag["scores"], task).items()},
        "load_average": load,
    }


def selection(quick: bool = False) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The datasets and seeds to run: all of them, digits and seed 0 with ``quick``, or those
    :data:`DATASETS_ENV` and :data:`SEEDS_ENV` name (comma-separated; either may be unset)."""
    datasets, seeds = (("digits",), (0,)) if quick else (DATASETS, SEEDS)
    named = [d.strip() for d in os.environ.get(DATASETS_ENV, "").split(",") if d.strip()]
    unknown = [d for d in named if d not in DATASETS]
    if unknown:
        raise ValueError(
            f"{DATASETS_ENV}: unknown dataset {unknown[0]!r}; choose from {', '.join(DATASETS)}"
        )
    if named:
        datasets = tuple(dict.fromkeys(named))
    text = [s.strip() for s in os.environ.get(SEEDS_ENV, "").split(",") if s.strip()]
    if text:
        try:
            seeds = tuple(dict.fromkeys(int(s) for s in text))
        except ValueError:
            raise ValueError(
                f"{SEEDS_ENV}: seeds are integers, got {os.environ[SEEDS_ENV]!r}"
            ) from None
    return datasets, seeds


def _describe(dataset: str) -> str:
    if dataset == "pixels":
        return f"{PIXEL_ROWS} 28x28 images (make_pixel_csv, seed 0), 784 columns"
    if dataset == "mixed":
        return (
            f"{MIXED_ROWS} customers (make_mixed_csv, seed 0): text, boolean, ISO date, numeric "
            "and identifier columns with empty cells, given to AutoGluon as read"
        )
    if dataset == "penguins":
        return "bundled penguins (mixed-type table), given to AutoGluon as read"
    return f"bundled {dataset}"


def _progress(dataset: str, row: dict[str, Any]) -> str:
    ours, theirs = row["rayboost"], row["autogluon"]
    key = "rmse" if "rmse" in theirs else "accuracy"
    return (
        f"   {dataset} seed {row['seed']}: rayboost {key} {ours['ensemble'].get(key)} "
        f"log_loss {ours['ensemble'].get('log_loss')} ({ours['wall_s']} s), AutoGluon {key} "
        f"{theirs.get(key)} log_loss {theirs.get('log_loss')} (fit {theirs['fit_s']} s)"
    )


def run(quick: bool = False) -> dict[str, Any]:
    datasets, seeds = selection(quick)  # a bad name fails the entry before anything runs
    venv = ensure_venv()  # before anything is timed; fails the entry in one line
    python = venv_python(Path(venv["path"]))
    extra = QUICK_OVERRIDES if quick else {}
    per: dict[str, list[dict[str, Any]]] = {d: [] for d in datasets}
    tasks: dict[str, str] = {}
    with storage_dir() as storage, ray_session(num_cpus=CPUS):
        data = {d: data_overrides(d, storage) for d in datasets}
        loaded = {d: load_data(data[d]) for d in datasets}
        tasks = {d: ds.task for d, ds in loaded.items()}
        for seed in seeds:
            for dataset in datasets:
                row = _one(storage, python, dataset, loaded[dataset], data[dataset], seed, extra)
                per[dataset].append(row)
                print(_progress(dataset, row), flush=True)

    def med(get: Any, want: str | None = None, digits: int = 4) -> dict[str, float | None]:
        return {
            d: rnd(median([get(r) for r in rows]), digits)
            for d, rows in per.items()
            if want is None or tasks[d] == want
        }

    cls, reg = "classification", "regression"
    metrics = {
        "minus_autogluon_pts": med(lambda r: r["minus_autogluon_pts"]),
        "logloss_ratio_vs_autogluon": med(lambda r: r["logloss_ratio_vs_autogluon"], cls),
        "rayboost_test_accuracy": med(lambda r: r["rayboost"]["ensemble"].get("accuracy"), cls),
        "autogluon_test_accuracy": med(lambda r: r["autogluon"].get("accuracy"), cls),
        "selected_net_test_accuracy": med(
            lambda r: r["rayboost"]["selected_net"].get("accuracy"), cls
        ),
        "rayboost_test_log_loss": med(lambda r: r["rayboost"]["ensemble"].get("log_loss"), cls),
        "autogluon_test_log_loss": med(lambda r: r["autogluon"].get("log_loss"), cls),
        "rayboost_test_rmse": med(lambda r: r["rayboost"]["ensemble"].get("rmse"), reg),
        "autogluon_test_rmse": med(lambda r: r["autogluon"].get("rmse"), reg),
        "selected_net_test_rmse": med(lambda r: r["rayboost"]["selected_net"].get("rmse"), reg),
        "rayboost_wall_s": med(lambda r: r["rayboost"]["wall_s"], digits=1),
        "autogluon_fit_s": med(lambda r: r["autogluon"]["fit_s"], digits=1),
    }
    metrics = {k: v for k, v in metrics.items() if v}  # e.g. no rmse rows without diabetes
    return {
        "metrics": metrics,
        "goals": {
            "minus_autogluon_pts": {
                d: goal(v, ">=", 0.0) for d, v in metrics["minus_autogluon_pts"].items()
            }
        },
        "details": {
            "setup": {
                "autogluon": f"autogluon.tabular {venv['autogluon']} (torch {venv['torch']}), "
                f"TabularPredictor.fit(train, tuning_data=val, presets={PRESET!r}, time_limit=budget, "
                f"num_cpus={CPUS}, num_gpus=0), verbosity 0, everything else default (no bagging)",
                "budget": "AutoGluon's time_limit = rayboost's wall seconds (whole rayboost.run call) "
                "for the same dataset and seed",
                "models": "every model of medium_quality's default set can run (torch-based NN_TORCH "
                "and FASTAI included); the ones that fitted are in per_dataset[...].autogluon.models",
                "threads": f"AutoGluon subprocess: num_cpus={CPUS}, OMP/MKL/OpenBLAS threads {CPUS}; "
                f"rayboost: Ray with {CPUS} CPUs; the two never run at once",
                "rayboost": "all defaults" + (f" except {QUICK_OVERRIDES}" if quick else ""),
                "load_average": "per_dataset[...].load_average: 1/5/15-minute load before each "
                "side and after; both sides' budgets are wall-clock, so other work on the machine "
                "costs them models and trials",
                "rows": "train/val/test row indices from the rayboost experiment's split.json",
                "tables": "mixed-type tables (penguins, mixed) reach AutoGluon as read: raw text, "
                "boolean, date-as-text and numeric columns, empty cells kept, identifier included",
                "venv": venv,
                "seeds": list(seeds),
                "datasets": {d: _describe(d) for d in datasets},
            },
            "units": {
                "minus_autogluon_pts": "accuracy points (rayboost ensemble − AutoGluon); "
                "diabetes: RMSE (AutoGluon − rayboost ensemble); positive = rayboost better",
                "logloss_ratio_vs_autogluon": "rayboost ensemble test log loss / AutoGluon's",
                "rayboost_wall_s": "seconds, the whole rayboost.run call (= AutoGluon's time_limit)",
                "autogluon_fit_s": "seconds, TabularPredictor.fit alone (details: the subprocess's wall_s)",
            },
            "per_dataset": per,
        },
    }
