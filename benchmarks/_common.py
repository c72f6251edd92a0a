"""Helpers shared by the benchmark entries: data, params, a warm process pool, Ray, goals."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

# importing this module imports ``benchmarks`` first, which sets RAY_AUTH_MODE etc.

__all__ = [
    "CLASSIC",
    "MIXED_LABEL",
    "MIXED_ROWS",
    "PIXEL_ROWS",
    "data_overrides",
    "goal",
    "load_average",
    "load_data",
    "machine_info",
    "median",
    "net_params",
    "ray_session",
    "run_rayboost",
    "storage_dir",
    "train_many",
    "train_net",
    "trial_data",
    "warm_pool",
]


# -- numbers -------------------------------------------------------------------------------------
def median(values: Sequence[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return statistics.median(vals) if vals else None


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def rnd(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def goal(value: float | None, op: str, threshold: float) -> dict[str, Any]:
    """A goal next to a number: PASS/FAIL, never an adjusted measurement."""
    if value is None or not math.isfinite(value):
        ok = None
    elif op == "<=":
        ok = value <= threshold
    elif op == ">=":
        ok = value >= threshold
    elif op == "<":
        ok = value < threshold
    else:
        raise ValueError(op)
    return {"target": f"{op} {threshold:g}", "pass": ok}


# -- machine -------------------------------------------------------------------------------------
def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    import numpy
    import ray
    import torch

    import rayboost

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "ray": ray.__version__,
        "numpy": numpy.__version__,
        "rayboost": rayboost.__version__,
        "cuda": torch.cuda.is_available(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


# -- data and params -----------------------------------------------------------------------------
def trial_data(dataset: str = "digits", seed: int = 0) -> Any:
    """The train/validation arrays a rayboost trial gets for ``dataset`` and ``seed``."""
    from rayboost.config import DataConfig
    from rayboost.data import Scaler, load_dataset, make_trial_data, split_dataset

    ds = load_dataset(DataConfig(dataset=dataset))  # type: ignore[arg-type]
    split = split_dataset(ds, seed)
    return make_trial_data(ds, split, Scaler.fit(ds.X[split.train]))


PIXEL_ROWS = 5000
"""Rows of the 28×28 pixel CSV the benchmarks generate (``examples/make_pixel_csv.py``, seed 0)."""


MIXED_ROWS = 5000
"""Rows of the mixed-type customers CSV the benchmarks generate (``examples/make_mixed_csv.py``,
seed 0)."""
MIXED_LABEL = "churned"


def data_overrides(dataset: str, folder: Path, rows: int = PIXEL_ROWS) -> dict[str, Any]:
    """rayboost's ``data.*`` overrides for ``dataset``: a bundled one by name (``penguins`` is
    a mixed-type table), ``pixels``: ``rows`` 28×28 images written as a CSV into ``folder``,
    or ``mixed``: :data:`MIXED_ROWS` customers (text, boolean, date and numeric columns with
    empty cells) written as a CSV into ``folder``."""
    if dataset == "mixed":
        from examples.make_mixed_csv import write_csv as write_mixed

        path = write_mixed(folder / "mixed.csv", MIXED_ROWS, seed=0)
        return {"data.path": str(path), "data.label": MIXED_LABEL}
    if dataset != "pixels":
        return {"data.dataset": dataset}
    from examples.make_pixel_csv import write_csv

    path = write_csv(folder / "pixels.csv", rows, seed=0)
    return {"data.path": str(path), "data.label": "label", "data.image_shape": [1, 28, 28]}


def load_data(data: dict[str, Any]) -> Any:
    """The rayboost Dataset those ``data.*`` overrides name."""
    from rayboost.config import DataConfig
    from rayboost.data import load_dataset

    fields = {k.split(".", 1)[1]: v for k, v in data.items()}
    if "image_shape" in fields:
        fields["image_shape"] = tuple(fields["image_shape"])
    return load_dataset(DataConfig(**fields))


CLASSIC = {
    "filters": 16,
    "convs": 1,
    "head": "gap",
    "head_units": 64,
    "dropout": 0.1,
    "optimizer": "adam",
    "schedule": "constant",
    "augment": "none",
    "grad_clip": 0.0,
}
"""The lecture's net and recipe (rayboost's defaults before stages, schedules and shifts): one
conv per block, an averaged head, Adam at a constant rate, no augmentation, no clipping (the
conv kind is each experiment's own). The lecture's experiments (BatchNorm, separable convs) keep
measuring this net."""


def net_params(family: str, task: str, max_epochs: int, **overrides: Any) -> dict[str, Any]:
    """rayboost's default hyperparameters with ``overrides`` (validated like a manual point)."""
    from rayboost.models import default_params, validate_params

    params = default_params(family, task, max_epochs)
    params.update(validate_params(family, task, max_epochs, overrides, "benchmark."))
    return params


# -- plain PyTorch training in worker processes ---------------------------------------------------
def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    import rayboost.models  # noqa: F401  (imports done before anything is timed)


def _ping(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


def warm_pool(workers: int, threads: int = 1) -> ProcessPoolExecutor:
    """A started process pool (spawned workers, torch imported, ``threads`` torch threads each)."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(threads,),
    )
    # each busy worker makes the pool start the next one: all are up and imported after this
    pids = set(pool.map(_ping, [0.3] * workers))
    if len(pids) < workers:
        pids |= set(pool.map(_ping, [1.0] * workers))
    return pool


def train_net(
    family: str,
    params: dict[str, Any],
    data: Any,
    seed: int,
    epochs: int,
    target: float | None = None,
) -> dict[str, Any]:
    """Train with rayboost's own NetTrainer for ``epochs`` (or until val accuracy ≥ ``target``).

    Returns per-epoch records and the wall time of the loop, measured in the worker.
    """
    from rayboost.models import NetTrainer

    start = time.perf_counter()
    trainer = NetTrainer(family, params, data, seed=seed)
    records = []
    while trainer.epoch < epochs:
        record = trainer.run_epoch()
        records.append(
            {
                k: record[k]
                for k in ("epoch", "train_loss", "val_loss", "epoch_time_s")
                if k in record
            }
            | {k: v for k, v in record.items() if k.startswith("val_")}
        )
        if target is not None and record.get("val_accuracy", 0.0) >= target:
            break
    return {
        "records": records,
        "wall_s": time.perf_counter() - start,
        "n_params": trainer.n_params,
        "madds": trainer.madds,
        "n_train": len(data.X_train),
    }


def train_many(jobs: dict[Any, tuple[Any, ...]], workers: int = 2) -> dict[Any, dict[str, Any]]:
    """``train_net(*args)`` for every job: in a warm pool of ``workers`` processes (1 torch
    thread each), or in this process when ``workers`` is 0 (tiny budgets: no pool start-up)."""
    if workers == 0:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return {key: train_net(*args) for key, args in jobs.items()}
        finally:
            torch.set_num_threads(threads)
    pool = warm_pool(workers, threads=1)
    try:
        futures = {key: pool.submit(train_net, *args) for key, args in jobs.items()}
        return {key: f.result() for key, f in futures.items()}
    finally:
        pool.shutdown()


# -- Ray and rayboost runs -----------------------------------------------------------------------
@contextlib.contextmanager
def ray_session(num_cpus: int = 2) -> Iterator[bool]:
    """An embedded local Ray started the way ``rayboost run`` starts one (its workers preload
    the trial modules), unless one is already up; shut down after."""
    from rayboost.config import RayConfig
    from rayboost.tuning import connect, disconnect

    started = connect(RayConfig(num_cpus=num_cpus))
    try:
        yield started
    finally:
        if started:
            disconnect()


@contextlib.contextmanager
def storage_dir(prefix: str = "rayboost-bench-") -> Iterator[Path]:
    """A temporary experiment storage folder, deleted afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_rayboost(storage: Path, name: str, overrides: dict[str, Any]) -> tuple[Any, float]:
    """``rayboost.run`` with dotted ``overrides``; returns the experiment and its wall time."""
    import rayboost

    start = time.perf_counter()
    exp = rayboost.run(
        overrides={"storage": str(storage), "name": name, **overrides}, verbose=False
    )
    return exp, time.perf_counter() - start
