"""Training a net: one epoch, one evaluation, best-epoch tracking; checkpointable between epochs."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rayboost.data import TrialData
from rayboost.models._measure import count_madds, count_params
from rayboost.models._nets import build_net

__all__ = [
    "NetTrainer",
    "lr_at",
    "metric_name",
    "predict_output",
    "shift_pixels",
    "shift_images",
    "target_scaling",
]

EVAL_BATCH = 2048
ONECYCLE_WARMUP, ONECYCLE_START_DIV, ONECYCLE_FINAL_DIV = 0.25, 25.0, 1e4
COSINE_WARMUP = 0.05


def lr_at(schedule: str, step: int, total: int, peak: float) -> float:
    """The learning rate of optimizer step ``step`` (0-based) of ``total`` under ``schedule``.

    - ``onecycle``: from peak/25 up to ``peak`` over the first 25% of the steps (cosine), then
      down to peak/25/1e4 at the last step (cosine), as in Smith's one-cycle policy and PyTorch's
      ``OneCycleLR``;
    - ``cosine``: a linear warm-up from 0 over the first 5% of the steps, then cosine to 0 at the
      last step;
    - ``constant``: ``peak`` throughout.

    ``total`` is the trial's whole epoch budget in steps, whatever stops the trial earlier.
    """
    if schedule == "constant" or total <= 1:
        return peak
    t = min(max(step, 0), total - 1) / (total - 1)  # 0 at the first step, 1 at the last
    if schedule == "onecycle":
        start = peak / ONECYCLE_START_DIV
        final = start / ONECYCLE_FINAL_DIV
        if t < ONECYCLE_WARMUP:
            return start + (peak - start) * (1 - math.cos(math.pi * t / ONECYCLE_WARMUP)) / 2
        return (
            final
            + (peak - final)
            * (1 + math.cos(math.pi * (t - ONECYCLE_WARMUP) / (1 - ONECYCLE_WARMUP)))
            / 2
        )
    if schedule == "cosine":
        warm = max(1, round(COSINE_WARMUP * (total - 1)))
        if step < warm:
            return peak * (step + 1) / (warm + 1)
        return peak * (1 + math.cos(math.pi * (step - warm) / max(total - 1 - warm, 1))) / 2
    raise ValueError(f"unknown schedule {schedule!r}")


def shift_pixels(input_shape: tuple[int, ...]) -> int:
    """The largest random shift of an image: H/14 pixels rounded (2 at 28×28), at least 1."""
    return max(1, round(min(input_shape[-2:]) / 14))


def shift_images(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, H, W): each image moved by its own random offset of up to ``pad``
    pixels in each direction (edges repeated), and mirrored left-right with probability 1/2 when
    ``flip``. Offsets are drawn from ``generator`` (on the CPU), so a checkpointed generator
    replays them."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")  # (N, C, H + 2p, W + 2p)
    offsets = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
    rows = (offsets[0][:, None] + torch.arange(h, device=x.device))[
        :, None, :, None
    ]  # (N, 1, H, 1)
    cols = (offsets[1][:, None] + torch.arange(w, device=x.device))[
        :, None, None, :
    ]  # (N, 1, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channels = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    out = padded[batch, channels, rows, cols]
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
        out = torch.where(mirror, out.flip(3), out)
    return out


def metric_name(task: str) -> str:
    """The validation metric a task is tuned on: accuracy (max) or RMSE (min)."""
    return "accuracy" if task == "classification" else "rmse"


def target_scaling(task: str, y_train: np.ndarray) -> tuple[float, float]:
    """Regression nets learn standardized targets: (mean, std) of the train labels."""
    if task == "classification":
        return 0.0, 1.0
    return float(y_train.mean()), float(y_train.std()) or 1.0


def _param_groups(model: nn.Module, l2: float, wide_lr_mult: float = 1.0) -> list[dict[str, Any]]:
    """Weights of conv/linear layers get weight decay; BatchNorm and bias parameters do not.
    A wide & deep net's wide part (``model.wide_parameters()``) learns at ``wide_lr_mult`` ×
    the learning rate, in groups of its own (``lr_mult``)."""
    wide = {id(p) for p in getattr(model, "wide_parameters", lambda: [])()}
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            is_weight = name == "weight" and isinstance(module, (nn.Conv2d, nn.Linear))
            groups.setdefault((is_weight, id(param) in wide), []).append(param)
    return [
        {
            "params": groups.get((decay, is_wide), []),
            "weight_decay": l2 if decay else 0.0,
            "lr_mult": wide_lr_mult if is_wide else 1.0,
        }
        for is_wide in (False, True)
        for decay in (True, False)
        if groups.get((decay, is_wide)) or not is_wide  # the first two groups always exist
    ]


def _optimizer(name: str, groups: list[dict[str, Any]], lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True)
    return torch.optim.RMSprop(groups, lr=lr)


@torch.no_grad()
def predict_output(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    task: str,
    y_mean: float = 0.0,
    y_std: float = 1.0,
) -> np.ndarray:
    """Class probabilities (N, C) or regression values in original units (N, 1)."""
    model.eval()
    device = next(model.parameters()).device
    X_t = torch.as_tensor(X, device=device)
    outs = [model(X_t[i : i + EVAL_BATCH]) for i in range(0, len(X_t), EVAL_BATCH)]
    out = torch.cat(outs)
    if task == "classification":
        return torch.softmax(out.float(), dim=1).cpu().numpy()
    return (out.float() * y_std + y_mean).cpu().numpy()


class NetTrainer:
    """Owns a net, its optimizer and its data; ``run_epoch`` is one unit of work."""

    def __init__(
        self,
        family: str,
        params: Mapping[str, Any],
        data: TrialData,
        seed: int = 0,
        device: str | torch.device = "cpu",
        epochs: int | None = None,
    ) -> None:
        """``epochs``: the trial's epoch budget, which the learning-rate schedule spans (default
        the ``epochs`` hyperparameter); a trial stopped earlier keeps the schedule it started with."""
        self.family = family
        self.params = dict(params)
        self.task = data.task
        self.device = torch.device(device)
        torch.manual_seed(seed)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.model = build_net(
            family, params, data.input_shape, data.n_outputs, getattr(data, "layout", None)
        ).to(self.device)
        self.n_params = count_params(self.model)
        self.madds = count_madds(self.model, data.input_shape)
        self.X_train = torch.as_tensor(data.X_train, device=self.device)
        self.X_val = torch.as_tensor(data.X_val, device=self.device)
        self.y_mean, self.y_std = target_scaling(self.task, data.y_train)
        if self.task == "classification":
            self.y_train = torch.as_tensor(data.y_train, dtype=torch.long, device=self.device)
        else:
            scaled = (data.y_train - self.y_mean) / self.y_std
            self.y_train = torch.as_tensor(scaled, dtype=torch.float32, device=self.device)[:, None]
        self.y_val = data.y_val
        self.optimizer = _optimizer(
            params["optimizer"],
            _param_groups(self.model, float(params["l2"]), float(params.get("wide_lr_mult", 1.0))),
            float(params["lr"]),
        )
        self.l1_params = (
            [g for g in self.optimizer.param_groups[0]["params"]] if params["l1"] > 0 else []
        )
        precision = self.params.get("precision", "fp32")
        self.amp_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self.epochs = int(epochs if epochs is not None else params["epochs"])
        self.steps_per_epoch = self._steps_per_epoch()
        augment = self.params.get("augment", "none") if len(data.input_shape) == 3 else "none"
        self.shift = shift_pixels(data.input_shape) if augment != "none" else 0
        self.flip = augment == "shift_flip"
        self.epoch = 0
        self.time_total_s = 0.0  # training + evaluation time over all epochs, across restores
        self.best: dict[str, Any] = {
            "epoch": 0,
            "metric": None,
            "val_loss": math.inf,
            "state": None,
            "val_pred": None,
        }

    # -- one step, one epoch, one evaluation -------------------------------------------------
    def _loss(self, out: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
        if self.task == "classification":
            return F.cross_entropy(out, y, label_smoothing=smoothing)
        if self.params["loss"] == "huber":
            return F.huber_loss(out, y)
        return F.mse_loss(out, y)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _steps_per_epoch(self) -> int:
        n, batch = len(self.X_train), int(self.params["batch_size"])
        last = n % batch
        # BatchNorm cannot train on a single row: a last batch of one is skipped
        return n // batch + (1 if last >= 2 or (last == 1 and self.params["bn"] == "none") else 0)

    def lr_at_step(self, step: int) -> float:
        """The learning rate of the trial's optimizer step ``step`` (0-based)."""
        schedule = self.params.get("schedule", "constant")
        return lr_at(schedule, step, self.epochs * self.steps_per_epoch, float(self.params["lr"]))

    def train_epoch(self) -> float:
        """One pass over the shuffled train rows; returns the mean train loss."""
        self.model.train()
        n = len(self.X_train)
        batch = int(self.params["batch_size"])
        smoothing = float(self.params.get("label_smoothing", 0.0))
        l1 = float(self.params["l1"])
        clip = float(self.params.get("grad_clip", 0.0))
        order = torch.randperm(n, generator=self.generator).to(self.device)
        total = torch.zeros((), device=self.device)
        seen = 0
        step = self.epoch * self.steps_per_epoch  # the schedule's position: derived, never stored
        for start in range(0, n, batch):
            idx = order[start : start + batch]
            if len(idx) < 2 and self.params["bn"] != "none":
                continue  # BatchNorm cannot train on a single row
            lr = self.lr_at_step(step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_mult", 1.0)
            step += 1
            x = self.X_train[idx]
            if self.shift:
                x = shift_images(x, self.shift, self.flip, self.generator)
            with self._autocast():
                out = self.model(x)
            loss = self._loss(out.float(), self.y_train[idx], smoothing)
            if l1 > 0:
                loss = loss + l1 * sum(p.abs().sum() for p in self.l1_params)
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                if clip > 0:
                    self.scaler.unscale_(self.optimizer)
                    nn.utils.clip_grad_norm_(self.model.parameters(), clip)
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                if clip > 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), clip)
                self.optimizer.step()
            total += loss.detach() * len(idx)
            seen += len(idx)
        return float(total) / max(seen, 1)

    def evaluate(self) -> tuple[dict[str, float], np.ndarray]:
        """Validation loss and metric, and the validation predictions."""
        pred = predict_output(self.model, self.X_val, self.task, self.y_mean, self.y_std)
        if self.task == "classification":
            if not np.isfinite(pred).all():  # argmax would call NaN rows class 0: no score at all
                return {"val_loss": math.nan, "val_accuracy": math.nan}, pred
            p = np.clip(pred[np.arange(len(self.y_val)), self.y_val], 1e-15, 1.0)
            val_loss = float(-np.log(p).mean())
            return {
                "val_loss": val_loss,
                "val_accuracy": float((pred.argmax(1) == self.y_val).mean()),
            }, pred
        err = pred[:, 0] - self.y_val
        rmse = float(np.sqrt(np.mean(err**2)))
        return {"val_loss": float(np.mean((err / self.y_std) ** 2)), "val_rmse": rmse}, pred

    def _is_better(self, metric: float, val_loss: float) -> bool:
        best = self.best["metric"]
        if best is None or not math.isfinite(best):
            return math.isfinite(metric)
        if self.task == "classification":
            return metric > best or (metric == best and val_loss < self.best["val_loss"])
        return metric < best

    def run_epoch(self) -> dict[str, Any]:
        """Train one epoch, evaluate, track the best epoch; returns this epoch's record."""
        start = time.perf_counter()
        train_loss = self.train_epoch()
        scores, pred = self.evaluate()
        self.epoch += 1
        metric = scores[f"val_{metric_name(self.task)}"]
        if self._is_better(metric, scores["val_loss"]):
            self.best = {
                "epoch": self.epoch,
                "metric": metric,
                "val_loss": scores["val_loss"],
                "state": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
                "val_pred": pred,
            }
        since_best = self.epoch - self.best["epoch"]
        epoch_time_s = time.perf_counter() - start
        self.time_total_s += epoch_time_s
        return {
            "epoch": self.epoch,
            "train_loss": train_loss,
            **scores,
            "best_epoch": self.best["epoch"],
            "patience_stop": since_best >= int(self.params["patience"]),
            "diverged": not (math.isfinite(train_loss) and math.isfinite(metric)),
            "epoch_time_s": epoch_time_s,
            "time_total_s": self.time_total_s,
        }

    # -- checkpoint between epochs ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "time_total_s": self.time_total_s,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),  # dropout draws from the global generator
            "cuda_rng": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else [],
            "scaler": self.scaler.state_dict() if self.scaler is not None else {},
            "best": {
                **self.best,
                "val_pred": None
                if self.best["val_pred"] is None
                else torch.as_tensor(self.best["val_pred"]),
            },
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.time_total_s = float(state["time_total_s"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if self.device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        best = dict(state["best"])
        if best["val_pred"] is not None:
            best["val_pred"] = best["val_pred"].numpy()
        self.best = best
