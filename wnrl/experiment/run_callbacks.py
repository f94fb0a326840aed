"""SB3 callbacks of a ``wnrl train`` run: stop, checkpoint, evaluate, report progress."""

from __future__ import annotations

import csv
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback

from wnrl.experiment.checkpoints import save_checkpoint
from wnrl.experiment.evaluate import evaluate_model, evaluation_env
from wnrl.experiment.rundir import EVALUATIONS
from wnrl.experiment.stop_signals import STOP_SIGNALS


class RunGuard(BaseCallback):
    """Stops training at the next step after a stop signal (:data:`STOP_SIGNALS`) or a
    non-finite loss."""

    def __init__(self) -> None:
        super().__init__()
        self.signal_name: str | None = None
        self.diverged: str | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal_name is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, without a checkpoint
        self.signal_name = signal.Signals(signum).name

    def check_losses(self) -> None:
        for key, value in self.logger.name_to_value.items():
            if key.startswith("train/") and "loss" in key and not math.isfinite(value):
                self.diverged = f"{key} is {value} at step {self.num_timesteps}"

    def _on_rollout_start(self) -> None:  # right after the previous gradient steps
        self.check_losses()

    def _on_step(self) -> bool:
        return self.signal_name is None and self.diverged is None


def _next_multiple(step: int, every: int) -> int:
    """The first multiple of ``every`` after ``step``."""
    return (step // every + 1) * every


def parameters_finite(model: BaseAlgorithm) -> bool:
    params = [p.detach() for p in model.policy.parameters()]
    return bool(torch.stack([torch.isfinite(p).all() for p in params]).all())


class PeriodicCheckpoint(BaseCallback):
    """An atomic checkpoint every ``every`` environment steps (never of a diverged model)."""

    def __init__(self, run_dir: Path, every: int, guard: RunGuard) -> None:
        super().__init__()
        self.run_dir, self.every, self.guard = run_dir, every, guard
        self.next_at = 0

    def _init_callback(self) -> None:
        self.next_at = _next_multiple(self.model.num_timesteps, self.every)

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.next_at:
            self.next_at += self.every * max(
                1, (self.model.num_timesteps - self.next_at) // self.every + 1
            )
            self.guard.check_losses()
            if self.guard.diverged is None and not parameters_finite(self.model):
                self.guard.diverged = f"non-finite parameters at step {self.model.num_timesteps}"
            if self.guard.diverged is not None:
                return False
            save_checkpoint(self.model, self.run_dir)
        return True


class PeriodicEvaluation(BaseCallback):
    """The DQN test protocol every ``every`` steps; rows in evaluations.csv, ``eval/*`` tags."""

    def __init__(self, run_dir: Path, config: dict[str, Any], frames_per_step: int) -> None:
        super().__init__()
        self.run_dir, self.config = run_dir, config
        self.every = config["eval"]["every"]
        self.frames_per_step = frames_per_step
        self.env: Any = None
        self.next_at = 0
        self.last_step = -1
        self.results: list[dict[str, float]] = []

    def _init_callback(self) -> None:
        episodes = self.config["eval"]["episodes"]
        self.env = evaluation_env(
            self.config["env"],
            n_envs=min(episodes, 4),
            seed=self.config["seed"] + 10_000,
            backend=self.config["backend"],
            **self.config.get("env_kwargs", {}),
        )
        self.next_at = _next_multiple(self.model.num_timesteps, self.every)

    def evaluate(self) -> None:
        step = self.model.num_timesteps
        result = evaluate_model(
            self.model,
            self.env,
            n_episodes=self.config["eval"]["episodes"],
            epsilon=self.config["eval"]["epsilon"],
            seed=self.config["seed"] + step,
        )
        row = {
            "step": step,
            "frames": step * self.frames_per_step,
            "mean": result.mean,
            "std": result.std,
            "max": result.max,
            "min": result.min,
            "episodes": result.n,
        }
        self.results.append(row)
        self.last_step = step
        path = self.run_dir / EVALUATIONS
        new = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        for key in ("mean", "std", "max"):
            self.logger.record(f"eval/{key}_reward", row[key])
        self.logger.record("time/total_timesteps", step)  # every progress.csv row has its step
        self.logger.dump(step)

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.next_at:
            self.next_at += self.every * max(
                1, (self.model.num_timesteps - self.next_at) // self.every + 1
            )
            self.evaluate()
        return True

    def close(self) -> None:
        if self.env is not None:
            self.env.close()


class PlainProgress(BaseCallback):
    """One line per ``every`` steps when stdout is not a terminal (logs, CI, sweeps)."""

    def __init__(self, total: int, every: int) -> None:
        super().__init__()
        self.total, self.every = total, every
        self.next_at = 0
        self.start_time = 0.0
        self.start_step = 0

    def _on_training_start(self) -> None:
        self.start_time, self.start_step = time.time(), self.model.num_timesteps
        self.next_at = self.start_step + self.every

    def _on_step(self) -> bool:
        step = self.model.num_timesteps
        if step >= self.next_at:
            self.next_at += self.every
            elapsed = max(time.time() - self.start_time, 1e-9)
            rate = (step - self.start_step) / elapsed
            eta = (self.total - step) / rate if rate > 0 else float("inf")
            print(
                f"step {step:,}/{self.total:,} ({100 * step / self.total:.0f}%), "
                f"{rate:,.0f} steps/s, ETA {_duration(eta)}",
                flush=True,
            )
        return True


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
