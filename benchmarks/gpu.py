"""GPU: trial throughput with 1, 2, 4, 8 trials packed per GPU, and mixed precision on/off.

Runs only where ``torch.cuda.is_available()``; elsewhere it records
``{"skipped": "no GPU on this machine"}``. Runnable alone in under 5 minutes (GPU time is
scarce) and writes ``benchmarks/results/gpu.json``:

    python -m benchmarks.gpu            # or: python benchmarks/gpu.py
    python -m benchmarks.gpu --dry-run-cpu   # the same code on CPU with a fake Ray GPU resource

1. Packing: ``rayboost.run`` with 8 manual digits-CNN points, fifo, fixed epochs, on one local
   Ray node with one GPU, ``resources.gpus_per_trial`` = 1, 0.5, 0.25, 0.125 (1, 2, 4, 8 trials
   at once on the GPU; 1 CPU each), with the ``precision`` hyperparameter fp32 and bf16 (mixed
   precision off/on). Throughput = train rows × epochs of all trials / run wall time; also the
   in-trial rows/s from ``epoch_time_s``.
2. Mixed precision in one trainer: ``NetTrainer.run_epoch`` (train + evaluation) with
   ``precision`` = fp32, bf16 and fp16 (loss scaling), interleaved and repeated, for the default
   CNN and a wide one with batch 256.
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
PRECISIONS = ("fp32", "bf16")
POINTS = [
    {"filters": f, "blocks": b, "conv": c}
    for f in (16, 32)
    for b in (2, 3)
    for c in ("separable", "standard")
]


def packing(
    epochs: int,
    fractions: tuple[float, ...],
    points: list[dict[str, Any]],
    precisions: tuple[str, ...],
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
            warm = {
                "search.algorithm": "manual",
                "search.scheduler": "fifo",
                "search.max_epochs": 1,
                "search.manual": points[:2],
                "resources.gpus_per_trial": 1.0,
                "ensemble.enabled": False,
                "data.dataset": "digits",
            }
            run_rayboost(storage, "warmup", warm)  # untimed: CUDA context and imports in workers
            for precision in precisions:
                for g in fractions:
                    exp, wall = run_rayboost(
                        storage,
                        f"pack-{precision}-{g:g}",
                        {
                            "data.dataset": "digits",
                            "search.algorithm": "manual",
                            "search.scheduler": "fifo",
                            "search.max_epochs": epochs,
                            "search.manual": [
                                {**p, "epochs": epochs, "patience": 10_000, "precision": precision}
                                for p in points
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
                            "precision": precision,
                            "gpus_per_trial": g,
                            "trials_per_gpu": int(round(1 / g)),
                            "wall_s": rnd(wall, 2),
                            "epochs": int(len(frame)),
                            "rows_per_s": rnd(n_train * len(frame) / wall, 1),
                            "in_trial_rows_per_s": rnd(
                                n_train * len(frame) / float(frame["epoch_time_s"].sum()), 1
                            ),
                            "best_val_accuracy": rnd(float(frame["val_accuracy"].max()), 4),
                        }
                    )
    finally:
        ray.shutdown()
    for precision in precisions:
        mine = [r for r in rows if r["precision"] == precision]
        base = mine[0]["rows_per_s"]
        for row in mine:
            row["speedup_vs_1"] = rnd(row["rows_per_s"] / base, 3)
    return rows


def pixel_data(rows: int) -> Any:
    """28×28 images (examples/make_pixel_csv.py's generator) through rayboost's CSV loader."""
    import tempfile

    from examples.make_pixel_csv import write_csv
    from rayboost.config import DataConfig
    from rayboost.data import Scaler, load_dataset, make_trial_data, split_dataset

    with tempfile.TemporaryDirectory() as folder:
        path = write_csv(Path(folder) / "pixels.csv", rows)
        ds = load_dataset(DataConfig(path=str(path), label="label", image_shape=(1, 28, 28)))
    split = split_dataset(ds, 0)
    return make_trial_data(ds, split, Scaler.fit(ds.X[split.train]))


def mixed_precision(epochs: int, reps: int, device: str, pixel_rows: int) -> dict[str, Any]:
    """``NetTrainer.run_epoch`` per ``precision`` value (the product's switch), interleaved."""
    from rayboost.models import NetTrainer

    digits = trial_data("digits", 0)
    pixels = pixel_data(pixel_rows)
    configs = {  # name: (data, overrides)
        "default_cnn": (digits, {}),
        "wide_cnn_batch256": (
            digits,
            {"filters": 64, "blocks": 3, "conv": "standard", "batch_size": 256},
        ),
        "cnn_28px_f128_batch512": (
            pixels,
            {"filters": 128, "blocks": 3, "conv": "standard", "batch_size": 512, "head_units": 128},
        ),
    }
    modes = ["fp32", "bf16"] + (["fp16"] if device == "cuda" else [])
    out: dict[str, Any] = {}
    for cname, (data, over) in configs.items():
        trainers = {
            m: NetTrainer(
                "cnn",
                net_params("cnn", "classification", epochs, **over, precision=m, patience=10_000),
                data,
                seed=0,
                device=device,
            )
            for m in modes
        }
        for m in modes:  # warm-up (cuDNN autotune, allocator)
            trainers[m].run_epoch()
        times: dict[str, list[float]] = {m: [] for m in modes}
        last: dict[str, dict[str, Any]] = {}
        for rep in range(max(reps, epochs - 1)):
            for m in modes if rep % 2 == 0 else modes[::-1]:
                last[m] = trainers[m].run_epoch()
                times[m].append(last[m]["epoch_time_s"])
        row: dict[str, Any] = {
            "input_shape": list(data.input_shape),
            "train_rows": len(data.X_train),
        }
        row |= {
            m: {
                "rows_per_s": rnd(len(data.X_train) / float(np.median(times[m])), 1),
                "val_accuracy": rnd(last[m]["val_accuracy"], 4),
                "epochs": trainers[m].epoch,
            }
            for m in modes
        }
        for m in modes:
            if m != "fp32":
                row[f"{m}_speedup"] = rnd(row[m]["rows_per_s"] / row["fp32"]["rows_per_s"], 3)
        out[cname] = row
    return out


def run(quick: bool = False, dry_run_cpu: bool = False) -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available() and not dry_run_cpu:
        out: dict[str, Any] = dict(SKIPPED)
        recorded = Path(__file__).resolve().parent / "results" / "gpu.json"
        if recorded.exists():  # the last run on a GPU machine (benchmarks/gpu_device.sh)
            doc = json.loads(recorded.read_text())
            out["recorded"] = {
                "file": "benchmarks/results/gpu.json",
                "device": doc["gpu"]["details"]["device"],
                "measured_at": doc.get("measured_at"),
                "metrics": doc["gpu"]["metrics"],
            }
        return out
    device = "cuda" if torch.cuda.is_available() else "cpu"
    small = quick or dry_run_cpu
    pack = packing(
        epochs=2 if small else 10,
        fractions=(1.0, 0.5) if small else PACKING,
        points=POINTS[:2] if small else POINTS,
        precisions=PRECISIONS,
    )
    amp = mixed_precision(
        epochs=2 if small else 10,
        reps=2 if small else 8,
        device=device,
        pixel_rows=600 if small else 20_000,
    )
    fp32 = [r for r in pack if r["precision"] == "fp32"]
    best = max(fp32, key=lambda r: r["rows_per_s"])
    bf16_best = max((r for r in pack if r["precision"] == "bf16"), key=lambda r: r["rows_per_s"])
    return {
        "metrics": {
            "gpu_packing_best_trials_per_gpu": best["trials_per_gpu"],
            "gpu_packing_best_speedup": best["speedup_vs_1"],
            "gpu_packing_bf16_vs_fp32_best": rnd(bf16_best["rows_per_s"] / best["rows_per_s"], 3),
            "amp_fp16_speedup": amp["default_cnn"].get("fp16_speedup"),
            "amp_bf16_speedup": amp["default_cnn"].get("bf16_speedup"),
            "amp_fp16_speedup_28px_f128": amp["cnn_28px_f128_batch512"].get("fp16_speedup"),
            "amp_bf16_speedup_28px_f128": amp["cnn_28px_f128_batch512"].get("bf16_speedup"),
        },
        "goals": {},
        "details": {
            "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
            "packing": pack,
            "mixed_precision": amp,
            "note": "mixed precision is the net hyperparameter precision (fp32, bf16, fp16)",
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
    logging.getLogger("ray.tune.search.variant_generator").setLevel(logging.ERROR)
    before = load_average()
    start = time.perf_counter()
    result = run(quick=args.quick, dry_run_cpu=args.dry_run_cpu)
    doc = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
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
