"""Presentation: leaderboards and text tables rendered from the result frames."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rayboost.results._frames import rank_trials

__all__ = ["format_summary", "leaderboard", "render"]

KEY_PARAMS = (
    "conv",
    "bn",
    "filters",
    "blocks",
    "convs",
    "residual",
    "head",
    "units",
    "layers",
    "embed_mult",
    "dropout",
    "lr",
    "batch_size",
    "schedule",
)


def leaderboard(trials: pd.DataFrame, metric: str, mode: str, n: int = 10) -> pd.DataFrame:
    """The ``n`` best trials by validation metric, with the hyperparameters that matter most."""
    value = f"best_val_{metric}"
    ordered = rank_trials(trials, metric, mode).head(n)
    params = [f"param_{p}" for p in KEY_PARAMS if f"param_{p}" in ordered]
    frame = ordered[["trial_id", value, "best_epoch", "epochs", "status", *params, "n_params"]]
    return frame.rename(columns={p: p[len("param_") :] for p in params}).reset_index(drop=True)


def render(frame: pd.DataFrame, fmt: str = "table") -> str:
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=2)
    if frame.empty:
        return "(no rows)"
    return frame.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def format_summary(summary: dict[str, Any]) -> str:
    metric = summary["metric"]
    if summary.get("best_trial_id") is None:
        return f"no trial produced a validation score (status: {summary.get('status')})"
    line = (
        f"best trial {summary['best_trial_id']}: val_{metric} {summary[f'best_val_{metric}']:.4f}"
        f" at epoch {summary['best_epoch']}"
    )
    test = summary.get("test")
    if test:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in test.items())
        line += f"; test split (scored once, after selection): {shown}"
    ens = summary.get("ensemble")
    if ens:
        m = ens["metric"]
        low, high = ens["ensemble_minus_best_ci"]
        how = ens["method"] + (", calibrated members" if ens.get("calibrated") else "")
        line += f"\nensemble ({how})"
        if f"ensemble_cv_{m}" in ens:  # the estimate from validation alone, before test was read
            line += (
                f": expected {m} {ens[f'ensemble_cv_{m}']:.4f} vs best member {ens.get(f'best_member_cv_{m}', float('nan')):.4f}"
                " (cross-fitted on validation);"
            )
        if ens.get("refit"):
            line += (
                f" refit on train + validation: {', '.join(ens['refit'])}"
                f" (test {m} before refit {ens[f'ensemble_before_refit_test_{m}']:.4f});"
            )
        line += (
            f" test {m} {ens[f'ensemble_test_{m}']:.4f} vs best member "
            f"{ens['best_member']} {ens[f'best_member_test_{m}']:.4f}; difference {ens['ensemble_minus_best']:+.4f} "
            f"(95% bootstrap CI {low:+.4f} .. {high:+.4f})"
        )
        xgb = (ens.get("members_info") or {}).get("xgboost")
        if xgb:
            line += (
                f"\nxgboost (hist): best iteration {xgb.get('best_iteration')} of {xgb.get('n_rounds')} rounds"
                f"{' (early stopped on validation)' if xgb.get('early_stopped') else ''}"
            )
            if xgb.get("search_configs"):
                line += (
                    f"; configuration {xgb['search_chosen']} of {xgb['search_configs']} tried"
                    f"{' (XGBoost defaults)' if xgb['search_chosen'] == 1 else ''}"
                )
    return line
