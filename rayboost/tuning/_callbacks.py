"""Driver-side Tune callbacks: the experiment's own records, and a compact live progress line."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from ray.tune import Callback

from rayboost._io import append_jsonl, read_jsonl
from rayboost._layout import ExperimentPaths

__all__ = ["ProgressCallback", "RecordCallback"]


class RecordCallback(Callback):
    """Append one JSON line per trial event (start, end) to the experiment's records.

    Epoch records are written by the trials themselves, next to their checkpoints.
    """

    def __init__(self, paths: ExperimentPaths) -> None:
        self.paths = paths

    def _event(self, trial: Any, event: str, **extra: Any) -> None:
        append_jsonl(
            self.paths.trial_events,
            {"event": event, "trial_id": trial.trial_id, "time": time.time(), **extra},
        )

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._event(trial, "start", params=dict(trial.config))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        self._event(trial, "end", status="terminated", finished=bool(last.get("final", False)))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        # Tune ends the trials still running at the time budget without a completion callback
        ended = {e["trial_id"] for e in read_jsonl(self.paths.trial_events) if e["event"] == "end"}
        for trial in trials:
            if trial.trial_id not in ended and trial.last_result and trial.status != "ERROR":
                self._event(
                    trial, "end", status="terminated", finished=False, stopped_by="time_budget"
                )

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        message = ""
        error = getattr(trial, "error_file", None)
        try:
            if error:
                lines = [ln for ln in open(error).read().splitlines() if ln.strip()]
                message = lines[-1] if lines else ""
        except OSError:
            pass
        self._event(trial, "end", status="error", finished=False, error=message)


class ProgressCallback(Callback):
    """One line per finished trial plus a status line at most every ``interval_s`` seconds."""

    def __init__(
        self,
        metric: str,
        mode: str,
        n_trials: int | None,
        interval_s: float = 10.0,
        out: TextIO | None = None,
        deadline: float | None = None,
    ):
        """``n_trials`` None: as many as the time budget (ending at ``deadline``) allows."""
        self.metric, self.mode, self.n_trials = metric, mode, n_trials
        self.deadline = deadline
        self.interval_s = interval_s
        self.out = out
        self.setup()

    def setup(self, **info: Any) -> None:
        """Called when the search starts, and again when a restored search resumes."""
        self.start = time.monotonic()
        self.last_print = 0.0
        self.best: tuple[float, str, int] | None = None
        self.done = 0

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.mode == "max" else value < self.best[0]

    def _print(self, text: str) -> None:
        elapsed = int(time.monotonic() - self.start)
        print(
            f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {text}",
            file=self.out or sys.stdout,
            flush=True,
        )

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        # a trial reports at ASHA's rungs, at its end and every few seconds: its best epoch so
        # far ("objective", "best_epoch") may lie between two reports
        value = result.get("objective", result.get(self.metric))
        if value is not None and result.get("best_epoch", 1) and self._better(value):
            self.best = (
                value,
                trial.trial_id,
                int(result.get("best_epoch", result.get("epoch", 0))),
            )
        now = time.monotonic()
        if now - self.last_print >= self.interval_s:
            self.last_print = now
            running = sum(1 for t in trials if t.status == "RUNNING")
            self._print(f"{self._done_text()}, {running} running | {self._best_text()}")

    def _done_text(self) -> str:
        done = (
            f"{self.done}/{self.n_trials} trials done"
            if self.n_trials is not None
            else f"{self.done} trials done"
        )
        if self.deadline is not None:
            left = max(0, int(self.deadline - time.time()))
            done += f", budget {left // 60:d}:{left % 60:02d} left"
        return done

    def _best_text(self) -> str:
        if self.best is None:
            return "no result yet"
        value, trial_id, epoch = self.best
        return f"best {self.metric} {value:.4f} (trial {trial_id}, epoch {epoch})"

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.done += 1
        last = trial.last_result or {}
        how = "finished" if last.get("final") else "stopped early"
        value = last.get(self.metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        self._print(
            f"trial {trial.trial_id} {how} after {last.get('epoch', 0)} epochs: {self.metric} {shown}"
            f" | {self._done_text()} | {self._best_text()}"
        )

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.done += 1
        self._print(f"trial {trial.trial_id} failed (see `rayboost results` for the error)")
