"""Tune overhead: the same K net configs through ``rayboost.run`` vs a plain PyTorch process pool.

What is timed
  rayboost side  ``rayboost.run(...)`` end to end (load + split digits, write the experiment
                 folder, Ray Tune with search.algorithm=manual over the K points, scheduler=fifo,
                 records and checkpoints, best-epoch export, test scoring). ensemble.enabled=false.
                 Tune's per-trial costs (actor start/reuse, reports, checkpoints, driver
                 callbacks) are included.
                 warm: each repeat starts a fresh embedded Ray the way ``rayboost run`` does
                 (``rayboost.tuning.connect``: its prestarted workers import the trial modules)
                 and waits, untimed, until those workers have imported them, as the plain side
                 waits for its pool. Ray start-up is a one-off cost and is excluded.
                 cold: a second run on the same Ray right after, whose trials need new worker
                 processes that import torch and Ray Tune first (a second experiment on a
                 long-running local Ray). Reported beside the goal, not as it.
  plain side     the same K (params, data) through a ProcessPoolExecutor with as many workers as
                 concurrent trials (2), started and warmed before timing; each worker runs
                 rayboost's own ``NetTrainer.run_epoch`` for the same epochs, torch threads = 1.
                 Data preparation (load + split + scale) is inside the timed region, as in run().

Both sides run with patience far above the epoch count, so every config trains every epoch.
The two sides are interleaved (A B, B A, ...) and repeated; medians are reported.

in_trial_throughput_ratio: train rows per second of ``epoch_time_s`` (train + eval of one
epoch, measured by NetTrainer) inside Tune trials vs in the plain workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import (
    goal,
    median,
    net_params,
    ratio,
    ray_session,
    rnd,
    run_rayboost,
    storage_dir,
    train_net,
    trial_data,
    warm_pool,
)

PATIENCE = 10_000  # never stops early: every config trains every epoch on both sides
SLOTS = 2  # concurrent trials: 2 CPUs, 1 CPU per trial


def configs(quick: bool) -> list[dict[str, Any]]:
    """K=8 small digits CNNs (quick: 2)."""
    points = [
        {"filters": f, "blocks": b, "conv": c}
        for f in (16, 32)
        for b in (2, 3)
        for c in ("separable", "standard")
    ]
    return points[:2] if quick else points


def _cpu_snapshot() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of this process and each descendant, with its role (Linux /proc):
    driver (this process), pool (the plain side's workers), workers (Ray worker processes:
    trials, member tasks, idle workers), ray_system (raylet, GCS, agents, log monitor)."""
    proc = Path("/proc")
    if not proc.exists():
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu, cmd = {}, {}, {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parent[pid] = int(fields[1])
            cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            cmd[pid] = (
                (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            )
        except (OSError, ValueError, IndexError):
            continue
    me = os.getpid()
    mine, frontier = {me}, [me]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in mine]
        mine.update(frontier)
    out = {}
    for pid in mine:
        line = cmd.get(pid, "")
        if pid == me:
            role = "driver"
        elif "multiprocessing" in line:
            role = "pool"
        elif "default_worker.py" in line or (line.startswith("ray::") and "Agent" not in line):
            role = "workers"
        else:
            role = "ray_system"
        out[pid] = (role, cpu.get(pid, 0.0))
    return out


def _cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds spent between two snapshots, by role, per process (processes that exited
    in between are lost: worker numbers are a lower bound)."""
    roles = {"driver": 0.0, "pool": 0.0, "workers": 0.0, "ray_system": 0.0}
    for pid, (role, cpu) in after.items():
        roles[role] += cpu - before.get(pid, (role, 0.0))[1]
    return roles


def _worker_ready(pid: int) -> bool:
    try:
        return "libtorch" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def wait_for_warm_workers(n: int, timeout_s: float = 120.0) -> float:
    """Block until ``n`` Ray worker processes of this driver have torch loaded and are idle (the
    embedded Ray's prestarted workers finished preloading); returns the seconds waited. Linux
    only; elsewhere returns at once."""
    start = time.perf_counter()
    if not Path("/proc").exists():
        return 0.0
    last: dict[int, float] = {}
    while time.perf_counter() - start < timeout_s:
        now = {pid: cpu for pid, (role, cpu) in _cpu_snapshot().items() if role == "workers"}
        ready = [pid for pid in now if _worker_ready(pid) and last.get(pid) == now[pid]]
        if len(ready) >= n:
            return time.perf_counter() - start
        last = now
        time.sleep(0.5)
    return time.perf_counter() - start


@contextlib.contextmanager
def _tune_phase(marks: dict[str, float]) -> Iterator[None]:
    """Time ``rayboost.tuning.tune_nets`` inside run() by wrapping it (no package change)."""
    from rayboost import tuning

    original = getattr(tuning, "tune_nets", None)
    if original is None:
        yield
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        cpu_before = _cpu_snapshot()
        marks["tune_start"], marks["tune_start_clock"] = time.perf_counter(), time.time()
        try:
            return original(*args, **kwargs)
        finally:
            marks["tune_end"], marks["tune_end_clock"] = time.perf_counter(), time.time()
            for role, value in _cpu_delta(cpu_before, _cpu_snapshot()).items():
                marks[f"cpu_{role}_s"] = value

    tuning.tune_nets = timed
    try:
        yield
    finally:
        tuning.tune_nets = original


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a torn last line
    return out


def _raw_epochs(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Epoch records with their wall-clock ``time``, per trial (either records layout)."""
    records = _jsonl(root / "records" / "epochs.jsonl")
    for path in sorted((root / "trials").glob("*/epochs.jsonl")):
        records += _jsonl(path)
    by_trial: dict[str, dict[int, dict[str, Any]]] = {}
    for r in records:
        if "time" in r and "epoch" in r:
            by_trial.setdefault(r["trial_id"], {})[int(r["epoch"])] = r  # keep the last
    return {t: [e[k] for k in sorted(e)] for t, e in by_trial.items()}


def _timeline(root: Path, marks: dict[str, float], n_trials: int) -> dict[str, float]:
    """Where Tune's wall time goes, from the experiment's trial start/end and epoch records."""
    events = _jsonl(root / "records" / "trials.jsonl")
    starts = {e["trial_id"]: e["time"] for e in events if e["event"] == "start"}
    ends = {e["trial_id"]: e["time"] for e in events if e["event"] == "end"}
    epochs = _raw_epochs(root)
    out: dict[str, float] = {}
    # in-trial time between epochs not spent in train+eval: records, checkpoint, report
    gaps = [
        b["time"] - a["time"] - b["epoch_time_s"]
        for recs in epochs.values()
        for a, b in zip(recs, recs[1:], strict=False)
    ]
    if gaps:
        out["in_trial_overhead_ms_per_epoch"] = 1000 * float(np.median(gaps))
    setup = [
        recs[0]["time"] - starts[t] - recs[0]["epoch_time_s"]
        for t, recs in epochs.items()
        if t in starts and recs
    ]
    if setup:  # trial start (driver) -> first epoch record, minus that epoch's training
        out["first_epoch_setup_s"] = float(np.median(setup))
    lag = [ends[t] - recs[-1]["time"] for t, recs in epochs.items() if t in ends and recs]
    if lag:  # last epoch record -> the driver sees the trial end
        out["end_lag_s"] = float(np.median(lag))
    if "tune_start_clock" in marks and starts and ends:
        first, last = min(starts.values()), max(ends.values())
        end_times = sorted(ends.values())
        # a slot frees when a trial ends; the next trial starts on it after this gap
        switches = [
            s - max(e for e in end_times if e <= s)
            for s in starts.values()
            if any(e <= s for e in end_times)
        ]
        busy = sum(ends[t] - starts[t] for t in starts if t in ends)
        out.update(
            startup_s=first - marks["tune_start_clock"],
            teardown_s=marks["tune_end_clock"] - last,
            trial_switch_s=float(np.median(switches)) if switches else None,
            trial_time_total_s=busy,
            # slot time per trial outside start..end of trials (start-up, switches, tail)
            slot_idle_s_per_trial=((marks["tune_end"] - marks["tune_start"]) * SLOTS - busy)
            / n_trials,
        )
    return out


def _rayboost_side(
    storage: Path, name: str, points: list[dict[str, Any]], epochs: int
) -> dict[str, Any]:
    marks: dict[str, float] = {}
    overrides = {
        "seed": 0,
        "data.dataset": "digits",
        "search.algorithm": "manual",
        "search.scheduler": "fifo",
        "search.max_epochs": epochs,
        "search.manual": [{**p, "epochs": epochs, "patience": PATIENCE} for p in points],
        "resources.cpus_per_trial": 1,
        "ensemble.enabled": False,
    }
    with _tune_phase(marks):
        start = time.perf_counter()
        exp, wall = run_rayboost(storage, name, overrides)
    frame = exp.epochs()
    n_train = int(exp.summary()["split_sizes"]["train"])
    out: dict[str, Any] = {
        "wall_s": wall,
        "epochs": int(len(frame)),
        "samples_per_s": n_train * len(frame) / float(frame["epoch_time_s"].sum()),
        "median_epoch_s": float(frame["epoch_time_s"].median()),
        "train_eval_s": float(frame["epoch_time_s"].sum()),
    }
    if "tune_start" in marks:
        out["before_tune_s"] = marks["tune_start"] - start
        out["tune_s"] = marks["tune_end"] - marks["tune_start"]
        out["after_tune_s"] = start + wall - marks["tune_end"]
    out.update(_timeline(Path(exp.paths.root), marks, len(points)))
    out.update({k: v for k, v in marks.items() if k.startswith("cpu_")})
    return out


def _plain_side(pool: Any, points: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    cpu_before = _cpu_snapshot()
    start = time.perf_counter()
    data = trial_data("digits", 0)
    params = [
        net_params("cnn", "classification", epochs, **p, epochs=epochs, patience=PATIENCE)
        for p in points
    ]
    futures = [pool.submit(train_net, "cnn", p, data, i, epochs) for i, p in enumerate(params)]
    results = [f.result() for f in futures]
    wall = time.perf_counter() - start
    cpu = _cpu_delta(cpu_before, _cpu_snapshot())
    times = [r["epoch_time_s"] for res in results for r in res["records"]]
    n_train = results[0]["n_train"]
    return {
        "wall_s": wall,
        "epochs": len(times),
        "samples_per_s": n_train * len(times) / sum(times),
        "median_epoch_s": float(np.median(times)),
        "trial_time_total_s": sum(res["wall_s"] for res in results),
        "train_eval_s": sum(times),
        "cpu_pool_s": cpu["pool"],
        "cpu_ray_system_s": cpu["ray_system"],
    }


def checkpoint_cost(epochs: int, repeats: int = 20) -> dict[str, Any]:
    """What rayboost's trainable does per epoch besides training: torch.save of the trainer state."""
    import torch

    from rayboost.models import NetTrainer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {}
        for point in (configs(False)[0], configs(False)[-1]):
            params = net_params("cnn", "classification", epochs, **point)
            trainer = NetTrainer("cnn", params, trial_data("digits", 0), seed=0)
            trainer.run_epoch()
            times, size = [], 0
            for _ in range(repeats):
                t0 = time.perf_counter()
                with tempfile.TemporaryDirectory() as folder:
                    path = Path(folder) / "trainer.pt"
                    torch.save(trainer.state_dict(), path)
                    size = path.stat().st_size
                times.append(time.perf_counter() - t0)
            key = f"f{point['filters']}_b{point['blocks']}_{point['conv']}"
            out[key] = {
                "torch_save_ms": rnd(1000 * float(np.median(times)), 2),
                "checkpoint_kb": rnd(size / 1024, 1),
            }
        return out
    finally:
        torch.set_num_threads(threads)


IMPORTS = {
    # what a Tune trial process imports to run rayboost's trainable (Ray unpickles it by module)
    "trial_module": "import rayboost.tuning._trainable",
    # the floor: torch and Ray Tune's report API (everything else a trial imports is rayboost's)
    "torch_and_ray_tune": "import torch, ray.tune",
    "torch_only": "import torch",
}


def import_cost(repeats: int) -> dict[str, float | None]:
    """Wall seconds of a fresh interpreter importing each set (median of ``repeats``): a new
    trial actor pays this before its first epoch."""
    import subprocess
    import sys

    times: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(repeats):
        for name, code in IMPORTS.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    return {f"{name}_s": rnd(median(v), 3) for name, v in times.items()}


def run(quick: bool = False) -> dict[str, Any]:
    points = configs(quick)
    epochs = 2 if quick else 15
    reps = 1 if quick else 4
    rb: list[dict[str, Any]] = []
    plain: list[dict[str, Any]] = []
    pairs: list[float] = []
    cold: list[dict[str, Any]] = []
    waits: list[float] = []
    with storage_dir() as storage:
        pool = warm_pool(SLOTS, threads=1)
        try:
            if not quick:  # warm-up, untimed: file caches, the pool's first tasks
                with ray_session(num_cpus=SLOTS):
                    waits.append(wait_for_warm_workers(SLOTS))
                    _rayboost_side(storage, "warmup", points[:2], 1)
                _plain_side(pool, points[:2], 1)
            for rep in range(reps):
                order = ("rayboost", "plain") if rep % 2 == 0 else ("plain", "rayboost")
                walls = {}
                for side in order:
                    if side == "rayboost":
                        with ray_session(num_cpus=SLOTS):  # a fresh Ray: start-up untimed
                            waits.append(wait_for_warm_workers(SLOTS))
                            rb.append(_rayboost_side(storage, f"overhead-{rep}", points, epochs))
                            cold.append(_rayboost_side(storage, f"cold-{rep}", points, epochs))
                        walls[side] = rb[-1]["wall_s"]
                    else:
                        plain.append(_plain_side(pool, points, epochs))
                        walls[side] = plain[-1]["wall_s"]
                pairs.append(walls["rayboost"] / walls["plain"])
        finally:
            pool.shutdown()
    ckpt = checkpoint_cost(epochs)
    imports = import_cost(1 if quick else 3)

    def med(rows: list[dict[str, Any]], key: str) -> float | None:
        return median([r.get(key) for r in rows])

    rb_wall, plain_wall = med(rb, "wall_s"), med(plain, "wall_s")
    overhead_ratio = ratio(rb_wall, plain_wall)
    throughput_ratio = ratio(med(rb, "samples_per_s"), med(plain, "samples_per_s"))
    k = len(points)
    total_epochs = k * epochs
    extra_per_trial = (
        None if rb_wall is None or plain_wall is None else (rb_wall - plain_wall) * SLOTS / k
    )
    return {
        "metrics": {
            "overhead_ratio": rnd(overhead_ratio),
            "in_trial_throughput_ratio": rnd(throughput_ratio),
        },
        # beside the goals: the same run when the trial workers must start cold
        "cold": {
            "overhead_ratio": rnd(ratio(med(cold, "wall_s"), plain_wall)),
            "wall_s_median": rnd(med(cold, "wall_s"), 3),
            "tune_startup_s": rnd(med(cold, "startup_s"), 3),
        },
        "goals": {
            "overhead_ratio": goal(overhead_ratio, "<=", 1.10),
            "in_trial_throughput_ratio": goal(throughput_ratio, ">=", 0.95),
        },
        "details": {
            "setup": {
                "dataset": "digits",
                "configs": points,
                "epochs": epochs,
                "concurrent_trials": SLOTS,
                "repeats": reps,
                "rayboost_side": "rayboost.run end to end on a fresh embedded Ray per repeat "
                "(rayboost.tuning.connect, num_cpus=2) whose workers preloaded the trial modules; "
                "manual search, fifo, ensemble off",
                "plain_side": "warm 2-process pool, NetTrainer, torch threads 1, data prep included",
            },
            "rayboost_wall_s_median": rnd(rb_wall, 3),
            "plain_wall_s_median": rnd(plain_wall, 3),
            "pair_ratios": [rnd(p, 3) for p in pairs],
            "extra_wall_s_per_trial": rnd(extra_per_trial, 3),
            "extra_wall_ms_per_epoch": rnd(
                None if extra_per_trial is None else 1000 * extra_per_trial * k / total_epochs, 1
            ),
            "rayboost_samples_per_s_median": rnd(med(rb, "samples_per_s"), 1),
            "plain_samples_per_s_median": rnd(med(plain, "samples_per_s"), 1),
            "rayboost_median_epoch_s": rnd(med(rb, "median_epoch_s"), 4),
            "plain_median_epoch_s": rnd(med(plain, "median_epoch_s"), 4),
            "in_trial_overhead_ms_per_epoch": rnd(med(rb, "in_trial_overhead_ms_per_epoch"), 2),
            "before_tune_s": rnd(med(rb, "before_tune_s"), 3),
            "tune_s": rnd(med(rb, "tune_s"), 3),
            "after_tune_s": rnd(med(rb, "after_tune_s"), 3),
            "slot_idle_s_per_trial": rnd(med(rb, "slot_idle_s_per_trial"), 3),
            "tune_startup_s": rnd(med(rb, "startup_s"), 3),
            "tune_teardown_s": rnd(med(rb, "teardown_s"), 3),
            "trial_switch_s": rnd(med(rb, "trial_switch_s"), 3),
            "first_epoch_setup_s": rnd(med(rb, "first_epoch_setup_s"), 3),
            "end_lag_s": rnd(med(rb, "end_lag_s"), 3),
            # CPU seconds during tuner.fit of the driver and of Ray's own processes (raylet,
            # GCS, agents); trial workers are left out: /proc loses processes that exit
            "tune_cpu_s": {
                role: rnd(med(rb, f"cpu_{role}_s"), 2) for role in ("driver", "ray_system")
            },
            "plain_cpu_s": {
                "pool": rnd(med(plain, "cpu_pool_s"), 2),
                "ray_system_idle": rnd(med(plain, "cpu_ray_system_s"), 2),
            },
            "checkpoint_save": ckpt,
            "untimed_wait_for_warm_workers_s": [rnd(w, 2) for w in waits],
            "fresh_process_import_s": imports,
            "rayboost_runs": [{k2: rnd(v, 4) for k2, v in r.items()} for r in rb],
            "plain_runs": [{k2: rnd(v, 4) for k2, v in r.items()} for r in plain],
        },
    }
