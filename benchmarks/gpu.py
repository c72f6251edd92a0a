"""GPU: trial throughput with 1, 2, 4, 8 trials packed per GPU, and mixed precision on/off.

Runs only where ``torch.cuda.is_available()``; elsewhere it records
``{"skipped": "no GPU on this machine"}``. Runnable alone in under 5 minutes (GPU time is
scarce) and writes ``benchmarks/results/gpu.json``:

    python -m benchmarks.gpu            # or: python benchmarks/gpu.py
    python -m benchmarks.gpu --dry-run-cpu   # the same code on CPU with a fake Ray GPU resource

1. Packing: ``rayboost.run`` with 8 manual digits-CNN points, fifo, fixed epochs, on one local
   Ray node with one GPU, ``resources.gpus_per_trial`` = 1, 0.5, 0.25, 0.125 (1, 2, 4, 8 trials
   at once on the GPU; 1 CPU each). Throughput = train rows × epochs of all trials / tune wall
   time; also the in-trial rows/s from ``epoch_time_s``.
2. Mixed precision: rayboost has no AMP switch, so this measures it with NetTrainer's model,
   optimizer and data and a loop like ``NetTrainer.train_epoch`` under ``torch.autocast``
   (float16 + GradScaler, and bfloat16), against float32, interleaved and repeated.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks._common import (  # noqa: E402
    load_average,
    machine_info,
    net_params,
    rnd,
    run_rayboost,
    storage_dir,
    trial_data,
)

SKIPPED = {"skipped": "no GPU on this machine"}
PACKING = (1.0, 0.5, 0.25, 0.125)
POINTS = [
    {"filters": f, "blocks": b, "conv": c}
    for f in (16, 32)
    for b in (2, 3)
    for c in ("separable", "standard")
]


def packing(
    epochs: int, fractions: tuple[float, ...], points: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    import ray

    rows = []
    cpus = max(2, min(os.cpu_count() or 2, 16))
    ray.init(
        num_cpus=cpus,
        num_gpus=1,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    try:
        with storage_dir() as storage:
            warm = {"search.algorithm": "manual", "search.scheduler": "fifo", "search.max_epochs": 1,
                    "search.manual": points[:2], "resources.gpus_per_trial": 1.0, "ensemble.enabled": False,
                    "data.dataset": "digits"}  # fmt: skip
            run_rayboost(storage, "warmup", warm)  # untimed: CUDA context and imports in workers
            for g in fractions:
                exp, wall = run_rayboost(
                    storage,
                    f"pack-{g:g}",
                    {
                        "data.dataset": "digits",
                        "search.algorithm": "manual",
                        "search.scheduler": "fifo",
                        "search.max_epochs": epochs,
                        "search.manual": [
                            {**p, "epochs": epochs, "patience": 10_000} for p in points
                        ],
                        "resources.cpus_per_trial": 1,
                        "resources.gpus_per_trial": g,
                        "ensemble.enabled": False,
                    },
                )
                frame = exp.epochs()
                n_train = int(exp.summary()["split_sizes"]["train"])
                rows.append(
                    {
                        "gpus_per_trial": g,
                        "trials_per_gpu": int(round(1 / g)),
                        "wall_s": rnd(wall, 2),
                        "epochs": int(len(frame)),
                        "rows_per_s": rnd(n_train * len(frame) / wall, 1),
                        "in_trial_rows_per_s": rnd(
                            n_train * len(frame) / float(frame["epoch_time_s"].sum()), 1
                        ),
                    }
                )
    finally:
        ray.shutdown()
    base = rows[0]["rows_per_s"]
    for row in rows:
        row["speedup_vs_1"] = rnd(row["rows_per_s"] / base, 3)
    return rows


def _amp_epoch(trainer: Any, device: str, dtype: Any, scaler: Any) -> float:
    """One train epoch like NetTrainer.train_epoch, under autocast when ``dtype`` is given."""
    import torch
    import torch.nn.functional as F

    model, opt = trainer.model, trainer.optimizer
    X, y = trainer.X_train, trainer.y_train
    batch = int(trainer.params["batch_size"])
    model.train()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    order = torch.randperm(len(X), device=X.device)
    for i in range(0, len(X), batch):
        idx = order[i : i + batch]
        if len(idx) < 2:
            continue
        with torch.autocast(device_type=device, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def mixed_precision(epochs: int, reps: int, device: str) -> dict[str, Any]:
    import torch

    from rayboost.models import NetTrainer, predict_output

    data = trial_data("digits", 0)
    configs = {
        "default_cnn": {},
        "wide_cnn_batch256": {"filters": 64, "blocks": 3, "conv": "standard", "batch_size": 256},
    }
    modes: dict[str, Any] = {"fp32": None, "bf16": torch.bfloat16}
    if device == "cuda":
        modes["fp16"] = torch.float16
    out: dict[str, Any] = {}
    for cname, over in configs.items():
        params = net_params("cnn", "classification", epochs, **over)
        trainers = {m: NetTrainer("cnn", params, data, seed=0, device=device) for m in modes}
        scalers = {
            m: torch.amp.GradScaler(device) if dt is torch.float16 else None
            for m, dt in modes.items()
        }
        for m, dt in modes.items():  # warm-up (cuDNN autotune, allocator)
            _amp_epoch(trainers[m], device, dt, scalers[m])
        times: dict[str, list[float]] = {m: [] for m in modes}
        names = list(modes)
        for rep in range(max(reps, epochs - 1)):
            for m in names if rep % 2 == 0 else names[::-1]:
                times[m].append(_amp_epoch(trainers[m], device, modes[m], scalers[m]))
        row: dict[str, Any] = {}
        for m in modes:
            pred = predict_output(trainers[m].model, data.X_val, "classification")
            row[m] = {
                "rows_per_s": rnd(len(data.X_train) / float(np.median(times[m])), 1),
                "val_accuracy": rnd(float((pred.argmax(1) == data.y_val).mean()), 4),
            }
        for m in modes:
            if m != "fp32":
                row[f"{m}_speedup"] = rnd(row[m]["rows_per_s"] / row["fp32"]["rows_per_s"], 3)
        out[cname] = row
    return out


def run(quick: bool = False, dry_run_cpu: bool = False) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available() and not dry_run_cpu:
        return dict(SKIPPED)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    small = quick or dry_run_cpu
    pack = packing(
        epochs=2 if small else 10,
        fractions=(1.0, 0.5) if small else PACKING,
        points=POINTS[:2] if small else POINTS,
    )
    amp = mixed_precision(epochs=2 if small else 10, reps=2 if small else 8, device=device)
    best = max(pack, key=lambda r: r["rows_per_s"])
    return {
        "metrics": {
            "gpu_packing_best_trials_per_gpu": best["trials_per_gpu"],
            "gpu_packing_best_speedup": best["speedup_vs_1"],
            "amp_fp16_speedup": amp["default_cnn"].get("fp16_speedup"),
            "amp_bf16_speedup": amp["default_cnn"].get("bf16_speedup"),
        },
        "goals": {},
        "details": {
            "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
            "packing": pack,
            "mixed_precision": amp,
            "note": "rayboost has no mixed-precision switch; AMP is measured with NetTrainer's model, "
            "optimizer and data in a NetTrainer-like loop",
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny budgets")
    parser.add_argument(
        "--dry-run-cpu",
        action="store_true",
        help="run the GPU code paths on CPU (tests the script)",
    )
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results"), help="output folder"
    )
    args = parser.parse_args(argv)
    before = load_average()
    start = time.perf_counter()
    result = run(quick=args.quick, dry_run_cpu=args.dry_run_cpu)
    doc = {
        "machine": machine_info(),
        "load_average": {"before": before, "after": load_average()},
        "duration_s": round(time.perf_counter() - start, 1),
        "gpu": result,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import torch

    name = "gpu.json" if torch.cuda.is_available() or not args.dry_run_cpu else "gpu-dry-run.json"
    (out / name).write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
