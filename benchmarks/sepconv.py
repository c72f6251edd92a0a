"""Depthwise-separable vs standard convolution: multiply-adds, parameters, CPU time, accuracy.

1. Blocks: ``SeparableConv2d(C, N, k, bias=False)`` vs ``nn.Conv2d(C, N, k, bias=False)`` on a
   16×16 map. Multiply-adds are measured with ``rayboost.models.count_madds`` and compared with
   MobileNet's cost ratio 1/N + 1/k² (N output channels, k kernel). Step time: forward + backward
   of a batch of 64, one CPU thread, the two kinds interleaved and repeated (median).
2. Nets: the same digits CNN with conv=separable vs standard (stem=same, so every block is of
   the kind named): parameters, multiply-adds, train-epoch time (interleaved, 1 thread) and
   validation accuracy after the same number of epochs over several seeds (NetTrainer; no Ray).
   sepconv_acc_delta_pts = separable − standard, median over seeds, percentage points.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import numpy as np

from benchmarks._common import CLASSIC, goal, median, net_params, rnd, train_many, trial_data

HEADLINE = (32, 3)  # width N and kernel k of the headline ratio
NET = {**CLASSIC, "filters": 32, "blocks": 2, "kernel_size": 3, "bn": "before", "stem": "same"}


def _blocks(c_in: int, n: int, k: int) -> tuple[Any, Any]:
    from torch import nn

    from rayboost.models import SeparableConv2d

    sep = SeparableConv2d(c_in, n, k, bias=False)
    std = nn.Conv2d(c_in, n, k, padding=k // 2, bias=False)
    return sep, std


def _step_time(module: Any, x: Any, iters: int) -> float:
    start = time.perf_counter()
    for _ in range(iters):
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()
    return (time.perf_counter() - start) / iters


def _interleaved(fns: dict[str, Any], reps: int) -> dict[str, float]:
    """Call each timing function in alternating order ``reps`` times; median per name."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            times[name].append(fns[name]())
    return {name: float(np.median(v)) for name, v in times.items()}


def madds_table(
    widths: tuple[int, ...], kernels: tuple[int, ...], reps: int, iters: int
) -> list[dict[str, Any]]:
    import torch

    from rayboost.models import count_madds, count_params

    rows = []
    for k in kernels:
        for n in widths:
            sep, std = _blocks(n, n, k)
            shape = (n, 16, 16)
            m_sep, m_std = count_madds(sep, shape), count_madds(std, shape)
            measured = m_sep / m_std
            formula = 1 / n + 1 / k**2
            row = {
                "in_channels": n,
                "out_channels": n,
                "kernel": k,
                "madds_separable": m_sep,
                "madds_standard": m_std,
                "madds_ratio": rnd(measured, 5),
                "formula_ratio": rnd(formula, 5),
                "rel_error": rnd(abs(measured / formula - 1), 6),
                "params_ratio": rnd(count_params(sep) / count_params(std), 5),
            }
            if k == 3:
                x = torch.randn(64, *shape)
                _step_time(sep, x, 2), _step_time(std, x, 2)  # warm-up
                fns = {
                    "sep": partial(_step_time, sep, x, iters),
                    "std": partial(_step_time, std, x, iters),
                }
                t = _interleaved(fns, reps)
                row.update(
                    step_ms_separable=rnd(1000 * t["sep"], 3),
                    step_ms_standard=rnd(1000 * t["std"], 3),
                    step_time_ratio=rnd(t["sep"] / t["std"], 3),
                )
            rows.append(row)
    return rows


def net_comparison(reps: int) -> dict[str, Any]:
    """Parameters, multiply-adds and train-epoch time of the whole digits CNN, sep vs std."""
    from rayboost.models import NetTrainer

    data = trial_data("digits", 0)
    trainers = {
        conv: NetTrainer(
            "cnn", net_params("cnn", "classification", 20, **NET, conv=conv), data, seed=0
        )
        for conv in ("separable", "standard")
    }
    for t in trainers.values():
        t.train_epoch()  # warm-up

    def epoch(t: Any) -> Any:
        def timed() -> float:
            start = time.perf_counter()
            t.train_epoch()
            return time.perf_counter() - start

        return timed

    times = _interleaved({conv: epoch(t) for conv, t in trainers.items()}, reps)
    sep, std = trainers["separable"], trainers["standard"]
    return {
        "config": NET,
        "params_separable": sep.n_params,
        "params_standard": std.n_params,
        "params_ratio": rnd(sep.n_params / std.n_params, 4),
        "madds_separable": sep.madds,
        "madds_standard": std.madds,
        "madds_ratio": rnd(sep.madds / std.madds, 4),
        "train_epoch_s_separable": rnd(times["separable"], 4),
        "train_epoch_s_standard": rnd(times["standard"], 4),
        "train_epoch_time_ratio": rnd(times["separable"] / times["standard"], 3),
    }


def accuracy(seeds: tuple[int, ...], epochs: int, workers: int = 2) -> dict[str, Any]:
    data = trial_data("digits", 0)
    variants = {
        "standard": {**NET, "conv": "standard"},
        "separable": {**NET, "conv": "separable"},
        "separable_stem_standard": {**NET, "conv": "separable", "stem": "standard"},
    }
    jobs = {
        (name, seed): (
            "cnn",
            net_params("cnn", "classification", epochs, **p, patience=10_000),
            data,
            seed,
            epochs,
        )
        for name, p in variants.items()
        for seed in seeds
    }
    results = train_many(jobs, workers=workers)
    out: dict[str, Any] = {"epochs": epochs, "seeds": list(seeds)}
    for name in variants:
        final = [results[(name, s)]["records"][-1]["val_accuracy"] for s in seeds]
        best = [max(r["val_accuracy"] for r in results[(name, s)]["records"]) for s in seeds]
        out[name] = {
            "final_val_accuracy": [rnd(v) for v in final],
            "best_val_accuracy": [rnd(v) for v in best],
        }
    for name in ("separable", "separable_stem_standard"):
        out[f"{name}_minus_standard_final_pts"] = rnd(
            median(
                [
                    100
                    * (
                        results[(name, s)]["records"][-1]["val_accuracy"]
                        - results[("standard", s)]["records"][-1]["val_accuracy"]
                    )
                    for s in seeds
                ]
            ),
            2,
        )
        out[f"{name}_minus_standard_best_pts"] = rnd(
            median(
                [
                    100 * (best_sep - best_std)
                    for best_sep, best_std in zip(
                        out[name]["best_val_accuracy"],
                        out["standard"]["best_val_accuracy"],
                        strict=True,
                    )
                ]
            ),
            2,
        )
    return out


def run(quick: bool = False) -> dict[str, Any]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        widths, kernels = ((8, 32), (3,)) if quick else ((8, 16, 32, 64), (3, 5))
        table = madds_table(widths, kernels, reps=3 if quick else 7, iters=3 if quick else 10)
        net = net_comparison(reps=2 if quick else 5)
    finally:
        torch.set_num_threads(threads)
    acc = accuracy(
        seeds=(0,) if quick else (0, 1, 2), epochs=2 if quick else 20, workers=0 if quick else 2
    )
    head = next((r for r in table if (r["out_channels"], r["kernel"]) == HEADLINE), table[-1])
    max_err = max(r["rel_error"] for r in table)
    delta = acc["separable_minus_standard_final_pts"]
    return {
        "metrics": {
            "sepconv_madds_ratio": head["madds_ratio"],
            "sepconv_formula_ratio": head["formula_ratio"],
            "sepconv_madds_max_rel_error": max_err,
            "sepconv_params_ratio": head["params_ratio"],
            "sepconv_step_time_ratio": head.get("step_time_ratio"),
            "sepconv_net_params_ratio": net["params_ratio"],
            "sepconv_net_madds_ratio": net["madds_ratio"],
            "sepconv_net_epoch_time_ratio": net["train_epoch_time_ratio"],
            "sepconv_acc_delta_pts": delta,
        },
        "goals": {
            # measured within 5% of 1/N + 1/k² at every width and kernel in the table
            "sepconv_madds_max_rel_error": goal(max_err, "<=", 0.05),
        },
        "details": {
            "headline": {"out_channels": HEADLINE[0], "kernel": HEADLINE[1]},
            "ratios": "separable / standard (below 1: separable is cheaper)",
            "blocks": table,
            "net": net,
            "accuracy": acc,
        },
    }
