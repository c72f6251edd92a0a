"""Mixed-type tables: the wide & deep default against MLP nets, and a 250,000-row table's time
and memory.

1. **Family.** On the bundled ``penguins`` table and the 5,000-row ``customers`` table (``mixed``) of
   ``examples/make_mixed_csv.py`` (text columns of 3 to 50 levels, a boolean, a date, empty
   cells), the default pipeline (``model.family: auto``, which picks ``wide_deep`` for tables
   with categorical columns) against the same run with ``model.family=mlp``: same seed, same
   split, same time budget (``auto``), one after the other. Per data set, medians over seeds of
   the test accuracy of the ensemble handed back and of the validation-selected net, and their
   differences (``wide_deep_minus_mlp_pts``: ensemble, points; positive = wide & deep better).
2. **Scale.** ``rayboost run`` with every default on a 250,000-row ``customers`` table (5
   categorical columns, a date, 4 numbers, an identifier; empty cells), as a user runs it: a
   subprocess whose resident memory is sampled every 0.2 s. ``tables_250k_wall_s`` (goal
   ≤ 900 s on 2 cores) and ``tables_250k_peak_driver_gib`` (the driver process's peak RSS; goal
   ≤ 4 GiB; Ray's workers are other processes and not counted) plus trials run and test accuracy.

``--quick``: penguins only, seed 0, ``search.time_budget_s=15``; scale on 20,000 rows.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks._common import goal, median, rnd, run_rayboost, storage_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _make_mixed() -> Any:
    spec = importlib.util.spec_from_file_location("make_mixed_csv", EXAMPLES / "make_mixed_csv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(name: str, folder: Path) -> dict[str, Any]:
    if name == "penguins":
        return {"data.dataset": "penguins"}
    path = _make_mixed().write_csv(folder / "customers.csv", rows=5000, seed=0)
    return {"data.path": str(path), "data.label": "churned"}


def _scores(exp: Any) -> dict[str, Any]:
    row = exp.members().set_index("member").loc["ensemble"]
    refit = bool(row.get("refit"))
    return {
        "ensemble_accuracy": float(row["refit_test_accuracy"] if refit else row["test_accuracy"]),
        "ensemble_log_loss": float(row["refit_test_log_loss"] if refit else row["test_log_loss"]),
        "selected_accuracy": float(exp.summary()["test"]["accuracy"]),
        "family": exp.meta.get("family"),
        "trials": len(exp.trials()),
    }


def _family(quick: bool) -> dict[str, Any]:
    names = ("penguins",) if quick else ("penguins", "mixed")
    seeds = (0,) if quick else (0, 1, 2)
    per: dict[str, Any] = {}
    with storage_dir() as storage:
        for name in names:
            data = _data(name, storage)
            runs: dict[str, list[dict[str, Any]]] = {"wide_deep": [], "mlp": []}
            for seed in seeds:
                for arm, family in (("wide_deep", "auto"), ("mlp", "mlp")):
                    overrides = {**data, "seed": seed, "model.family": family}
                    if quick:
                        overrides["search.time_budget_s"] = 15
                    exp, wall = run_rayboost(storage, f"{name}-{arm}-{seed}", overrides)
                    runs[arm].append({"seed": seed, "wall_s": rnd(wall, 1), **_scores(exp)})
            diffs = [
                100 * (w["ensemble_accuracy"] - m["ensemble_accuracy"])
                for w, m in zip(runs["wide_deep"], runs["mlp"], strict=True)
            ]
            per[name] = {
                "wide_deep_minus_mlp_pts": rnd(median(diffs), 3),
                "selected_wide_deep_minus_mlp_pts": rnd(
                    median(
                        [
                            100 * (w["selected_accuracy"] - m["selected_accuracy"])
                            for w, m in zip(runs["wide_deep"], runs["mlp"], strict=True)
                        ]
                    ),
                    3,
                ),
                "logloss_ratio_wide_deep_vs_mlp": rnd(
                    median(
                        [
                            w["ensemble_log_loss"] / m["ensemble_log_loss"]
                            for w, m in zip(runs["wide_deep"], runs["mlp"], strict=True)
                        ]
                    ),
                    3,
                ),
                "runs": runs,
            }
    return per


def _scale(rows: int) -> dict[str, Any]:
    with storage_dir() as storage:
        path = _make_mixed().write_csv(storage / "big.csv", rows=rows, seed=0)
        command = [
            sys.executable,
            "-m",
            "rayboost",
            "run",
            "--set", f"data.path={path}",
            "--set", "data.label=churned",
            "--set", "name=big",
            "--set", f"storage={storage}",
        ]  # fmt: skip
        env = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        watched = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        wall = time.perf_counter() - start
        output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
        if proc.returncode != 0:
            raise RuntimeError(f"rayboost run exited {proc.returncode}: {output[-2000:]}")
        import rayboost

        exp = rayboost.load("big", storage=storage)
        return {
            "rows": rows,
            "wall_s": rnd(wall, 1),
            "peak_driver_gib": rnd(peak / 2**30, 3),
            "time_budget_s": exp.summary().get("time_budget_s"),
            **_scores(exp),
        }


def run(quick: bool = False) -> dict[str, Any]:
    family = _family(quick)
    scale = _scale(20_000 if quick else 250_000)
    metrics = {
        "wide_deep_minus_mlp_pts": {k: v["wide_deep_minus_mlp_pts"] for k, v in family.items()},
        "logloss_ratio_wide_deep_vs_mlp": {
            k: v["logloss_ratio_wide_deep_vs_mlp"] for k, v in family.items()
        },
        "tables_250k_wall_s": scale["wall_s"],
        "tables_250k_peak_driver_gib": scale["peak_driver_gib"],
        "tables_250k_test_accuracy": rnd(scale["ensemble_accuracy"], 4),
    }
    return {
        "metrics": metrics,
        "goals": {
            "tables_250k_wall_s": goal(scale["wall_s"], "<=", 900),
            "tables_250k_peak_driver_gib": goal(scale["peak_driver_gib"], "<=", 4),
        },
        "details": {"family": family, "scale": scale},
    }
