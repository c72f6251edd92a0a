"""Typed config records. Every key here can be set in YAML or with ``--set a.b=value``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "Config",
    "DataConfig",
    "EnsembleConfig",
    "ModelConfig",
    "RayConfig",
    "ResourcesConfig",
    "SearchConfig",
]


@dataclass
class DataConfig:
    dataset: Literal["digits", "breast_cancer", "diabetes", "penguins"] | None = None
    """A bundled dataset (``penguins``: a small table with text columns and empty cells); or
    give ``path`` instead."""
    path: str | None = None
    """CSV, Parquet or NPZ file with your data."""
    label: str | None = None
    """Label column of a CSV/Parquet file."""
    image_shape: tuple[int, ...] | None = None
    """``C,H,W`` (or ``H,W``): turn each row of a pixel table into an image."""
    task: Literal["auto", "classification", "regression"] = "auto"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    categorical: list[str] = field(default_factory=list)
    """Table columns to treat as categories (text and boolean columns are, without being named)."""
    numeric: list[str] = field(default_factory=list)
    """Table columns to treat as numbers."""
    drop: list[str] = field(default_factory=list)
    """Table columns to leave out."""
    min_frequency: int = 5
    """A category level seen in fewer train rows joins the column's "other" level."""
    max_levels: int = 200
    """A categorical column with more levels in the train rows is refused (drop it, or mark it
    numeric)."""


@dataclass
class ModelConfig:
    family: Literal["auto", "cnn", "mlp", "wide_deep"] = "auto"
    """``auto``: a CNN for image-shaped data, wide & deep for tables with categorical columns,
    an MLP for other tables."""


@dataclass
class SearchConfig:
    algorithm: Literal["hyperopt", "random", "grid", "manual"] = "hyperopt"
    scheduler: Literal["asha", "fifo"] = "asha"
    num_samples: int | None = None
    """Trials to run (hyperopt/random): default as many as ``time_budget_s`` allows (16 when the
    budget is null). Grid and manual run one trial per point."""
    max_epochs: int | Literal["auto"] = "auto"
    """A trial's epoch budget, which its learning-rate schedule spans. ``auto``: as many epochs
    as pass 60,000 rows through the net (20 for 3,000 training rows), between 10 and 100: small
    data needs more passes for the same number of optimizer steps."""
    time_budget_s: float | Literal["auto"] | None = "auto"
    """Seconds from the start of the run: no trial starts that would not finish within them
    (judged from the epochs run so far), and the search ends at them, before the ensemble.
    ``auto`` sizes the budget for the data: 600 s for 5,000 28×28 images on 2 CPUs, in
    proportion to rows × features / CPUs (a mixed table's columns, not their one-hot
    encoding), between 60 s and 1 h. Null: no budget."""
    checkpoint_every_s: float = 5.0
    """A trial saves its training state between epochs at most this often (0: after every
    epoch). Epoch records are written after every epoch, the best epoch's model with each
    checkpoint, before each report to Tune and at the end; a restored trial repeats at most
    this many seconds of training."""
    max_concurrent_trials: int | None = None
    """Default: as many trials as the cluster's CPUs/GPUs fit at once."""
    n_initial_points: int | None = None
    """HyperOpt's random start; default a quarter of ``num_samples`` (at least 2)."""
    stopped_trials: Literal["rung", "best", "ignore"] = "rung"
    """What HyperOpt's TPE learns from a trial ASHA stopped early: ``rung`` ranks it below every
    trial that got further (then by score), ``best`` takes its best score so far as final,
    ``ignore`` leaves it out."""
    grace_period: int | None = None
    """ASHA's first rung in epochs; default max_epochs / reduction_factor², rounded up, so that
    trials are first compared once learning curves have separated."""
    reduction_factor: int = 3
    space_preset: Literal["default", "wide"] = "default"
    """``default``: the ranges in which nets train; ``wide``: every option of the lecture."""
    portfolio: int | None = None
    """The first trials (hyperopt/random) run known-good configurations of the family, fitted
    into the search space: this many of them (default 3, or a quarter of ``num_samples``, at
    least 1); 0: none."""
    space: dict[str, Any] = field(default_factory=dict)
    """Overrides of the search space (of ``space_preset``), per hyperparameter."""
    grid: dict[str, list[Any]] | None = None
    """Grid search: values per hyperparameter (the rest stay at their defaults); unset: the
    default grid."""
    manual: list[dict[str, Any]] = field(default_factory=list)
    """Manual search: the configs to run (unset hyperparameters stay at their defaults)."""


@dataclass
class ResourcesConfig:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0


@dataclass
class RayConfig:
    address: str | None = None
    """An existing cluster (``auto``, ``ray://...`` or ``host:port``); default an embedded local Ray."""
    num_cpus: int | None = None
    """CPUs of the embedded local Ray (default: all)."""


@dataclass
class EnsembleConfig:
    enabled: bool = True
    """Train XGBoost and a linear model beside the nets and combine the best of them."""
    top_k: int = 3
    """Nets from the best distinct trials that become members."""
    method: Literal["bagged", "greedy", "optimize", "uniform", "weights"] = "bagged"
    """How weights are fit on the (calibrated) validation predictions: ``bagged`` Caruana
    selection with replacement on log loss / MSE over 25 bootstrap resamples of the validation
    rows, weights averaged; ``greedy`` selection with replacement on accuracy (ties: log loss)
    or MSE, stopped at its earliest step with the best validation score; ``optimize`` (min log
    loss / MSE); ``uniform``; or user ``weights``."""
    calibrate: bool = True
    """Fit one temperature per classification member on its validation predictions (min
    cross-entropy against Platt's targets) before any weights; applied wherever it predicts."""
    refit: bool = True
    """Once temperatures, weights and each member's epochs / boosting rounds are fixed on
    validation, train the members that carry weight again on train + validation rows (Ray
    tasks) and hand back those versions. With a time budget, the refits get a share of it and
    run heaviest member first while their time (estimated from each member's own training)
    fits; the others keep their first fit."""
    weights: dict[str, float] = field(default_factory=dict)
    """``method=weights``: weight per member name (net_1, net_2, ..., xgboost, linear); unlisted → 0."""
    xgboost: bool = True
    linear: bool = True
    xgboost_params: dict[str, Any] = field(default_factory=dict)
    """Overrides of XGBoost's parameters (eta, max_depth, num_boost_round, ...); a parameter
    set here is fixed in every configuration the XGBoost search tries."""
    xgboost_trials: int = 16
    """XGBoost configurations tried by Ray Tune trials before the nets (the first is XGBoost's
    defaults; TPE proposes the rest), each early-stopped on validation; the best by validation
    log loss (RMSE) becomes the member. With a time budget the search gets a share of it
    (fewer trials when they do not fit). 1: the defaults only."""


@dataclass
class Config:
    name: str | None = None
    """Experiment name; default ``<dataset>-<timestamp>``."""
    seed: int = 0
    storage: str | None = None
    """Folder holding experiments; default ``$RAYBOOST_STORAGE`` or ``~/rayboost_results``."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)
