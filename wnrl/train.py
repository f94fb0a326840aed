"""``wnrl train``: one training run, from a preset to a run directory.

A run directory (``<logdir>/<env>/<agent>-<norm>-s<seed>-<time>/``) holds:

* ``config.yaml``: the fully resolved configuration (enough to resume or evaluate the run);
* ``events.out.tfevents.*`` and ``progress.csv``: SB3's logger (TensorBoard and CSV): learning
  curves (``rollout/ep_rew_mean`` is the real game score), losses, ``weight_norm/*`` (sec. 2.1),
  ``ddi/*`` (sec. 3) and ``eval/*``;
* ``evaluations.csv``: one row per periodic evaluation (step, frames, mean, std, max, min,
  episodes), the paper's "maximum test score" is the max over its ``mean`` column;
* ``checkpoints/``: atomic checkpoints (:mod:`wnrl.checkpoints`), the newest two kept;
* ``model.zip``: the final model, loadable with ``DQN.load`` etc. after ``import wnrl``.

Ctrl-C / SIGTERM stop at the next step, write a checkpoint and return ``"interrupted"``;
``resume_run`` continues the same run (same TensorBoard directory, step count and schedules).
A non-finite loss or parameter stops the run (``TrainingDiverged``) without overwriting the last
good checkpoint.
"""

from __future__ import annotations

import contextlib
import csv
import math
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

from wnrl import __version__
from wnrl.callbacks import DataDependentInit, WeightNormLogger
from wnrl.checkpoints import (
    atomic_save_model,
    atomic_write_text,
    checkpoint_step,
    discard_partial_writes,
    finish_from_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    resume_candidates,
    save_checkpoint,
    verify_checkpoint,
)
from wnrl.envs import canonical_env_id, is_atari, make_env
from wnrl.errors import ConfigError, TrainingDiverged, WnrlError, one_line
from wnrl.locks import exclusive_lock
from wnrl.norms import check_norm, uses_weight_norm
from wnrl.policies import WN_POLICIES
from wnrl.presets import (
    ACTION_SPACES,
    ALGORITHMS,
    apply_norm_overrides,
    check_agent,
    check_hyperparams,
    env_family,
    materialize_hyperparams,
    materialize_policy_kwargs,
    select_preset,
)
from wnrl.run_logs import run_logger, truncate_evaluations
from wnrl.rundir import CONFIG, EVALUATIONS, FINAL_MODEL, LOCK, read_config

ATARI_FRAME_SKIP = 4


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # "finished" | "interrupted"
    num_timesteps: int
    signal_name: str | None = None
    evaluations: list[dict[str, float]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if re.fullmatch(r"cuda(:\d+)?", device):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available (torch sees none)")
        return device
    raise ConfigError(f"unknown device {device!r}; use auto, cpu or cuda[:N]")


def action_space_name(env_id: str) -> str:
    """The name of the action space class of ``env_id`` (Discrete, Box, ...)."""
    if is_atari(env_id):
        return "Discrete"
    try:
        env = gym.make(env_id)
    except Exception as error:  # a registered id whose dependencies are missing, etc.
        raise ConfigError(f"cannot create {env_id}: {error}") from error
    name = type(env.action_space).__name__
    env.close()
    return name


def _positive(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def build_config(
    agent: str,
    env: str,
    norm: str = "wn",
    preset: str | None = None,
    steps: int | None = None,
    seed: int | None = None,
    n_envs: int | None = None,
    device: str = "auto",
    logdir: str | Path = "runs",
    hp: dict[str, Any] | None = None,
    ddi: bool | None = None,
    ddi_heads: str = "scale",
    eval_every: int | None = None,
    eval_episodes: int | None = None,
    checkpoint_every: int | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """The fully resolved configuration of a run (plain YAML data), validated."""
    agent = check_agent(agent)
    try:
        norm = check_norm(norm)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    env_id = canonical_env_id(env)
    action_space = action_space_name(env_id)
    if action_space not in ACTION_SPACES[agent]:
        raise ConfigError(
            f"{agent} cannot act in {env_id}: its action space is {action_space}, "
            f"{agent} needs {' or '.join(ACTION_SPACES[agent])}"
        )
    family = env_family(env_id, action_space, is_atari(env_id))
    preset_name, chosen = select_preset(agent, family, preset)
    chosen = apply_norm_overrides(chosen, norm)
    hyperparams = dict(chosen.get("hyperparams") or {})
    policy_kwargs = dict(chosen.get("policy_kwargs") or {})
    overrides = dict(hp or {})
    policy_kwargs.update(overrides.pop("policy_kwargs", {}) or {})
    if "norm" in policy_kwargs:
        raise ConfigError("set the normalizer with --norm, not policy_kwargs.norm")
    hyperparams.update(overrides)
    check_hyperparams(agent, hyperparams)
    materialize_hyperparams(hyperparams)
    materialize_policy_kwargs(policy_kwargs)
    evaluation = dict(chosen.get("eval") or {})
    if eval_every is not None:
        evaluation["every"] = eval_every
    if eval_episodes is not None:
        evaluation["episodes"] = eval_episodes
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31 - 1))
    config = {
        "wnrl_version": __version__,
        "agent": agent,
        "env": env_id,
        "norm": norm,
        "preset": preset_name,
        "seed": int(seed),
        "n_timesteps": _positive("--steps", steps if steps is not None else chosen["n_timesteps"]),
        "n_envs": _positive("--n-envs", n_envs if n_envs is not None else chosen.get("n_envs", 1)),
        "device": device,
        "backend": backend,
        "env_kwargs": dict(chosen.get("env_kwargs") or {}),
        "ddi": uses_weight_norm(norm) if ddi is None else bool(ddi),
        "ddi_heads": _choice("--ddi-heads", ddi_heads, ("scale", "keep")),
        "weight_norm_log_every": 1000,
        "eval": {
            "every": int(evaluation.get("every", 0)),
            "episodes": _positive("--eval-episodes", int(evaluation.get("episodes", 10))),
            "epsilon": float(evaluation.get("epsilon", 0.05 if family == "atari" else 0.0)),
        },
        "checkpoint_every": int(
            checkpoint_every if checkpoint_every is not None else chosen.get("checkpoint_every", 0)
        ),
        "hyperparams": hyperparams,
        "policy_kwargs": policy_kwargs,
        "action_noise": chosen.get("action_noise"),
        "logdir": str(logdir),
    }
    if config["eval"]["every"] < 0 or config["checkpoint_every"] < 0:
        raise ConfigError("--eval-every and --checkpoint-every must be >= 0 (0: never)")
    resolve_device(device)
    return config


def run_dir_for(config: dict[str, Any]) -> Path:
    """``<logdir>/<env>/<agent>-<norm>-s<seed>-<time>``, made unique if needed."""
    env_slug = config["env"].replace("/", "-")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = (
        Path(config["logdir"])
        / env_slug
        / f"{config['agent']}-{config['norm']}-s{config['seed']}-{stamp}"
    )
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The configuration of an existing run directory (for ``--resume``)."""
    if not run_dir.is_dir():
        raise WnrlError(f"run directory not found: {run_dir}")
    if not (run_dir / CONFIG).is_file():
        raise WnrlError(f"{run_dir} is not a wnrl run directory (no {CONFIG})")
    required = ("agent", "env", "norm", "seed", "n_timesteps", "n_envs", "hyperparams", "eval")
    return read_config(run_dir / CONFIG, required)


# --------------------------------------------------------------------------------------------
# Callbacks of a training run
# --------------------------------------------------------------------------------------------


class RunGuard(BaseCallback):
    """Stops training at the next step after SIGINT/SIGTERM or a non-finite loss."""

    def __init__(self) -> None:
        super().__init__()
        self.signal_name: str | None = None
        self.diverged: str | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
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
        from wnrl.evaluate import evaluation_env

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
        from wnrl.evaluate import evaluate_model

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


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


def _action_noise(config: dict[str, Any], env: Any) -> Any:
    spec = config.get("action_noise")
    if not spec:
        return None
    shape = env.action_space.shape
    sigma = float(spec.get("std", 0.1)) * np.ones(shape)
    kinds = {"normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}
    if spec.get("type") not in kinds:
        raise ConfigError(f"action_noise.type must be one of {', '.join(kinds)}")
    return kinds[spec["type"]](mean=np.zeros(shape), sigma=sigma)


def _construct(
    config: dict[str, Any],
    env: Any,
    device: str,
    hyperparams: dict[str, Any],
    policy_kwargs: dict[str, Any],
) -> BaseAlgorithm:
    algorithm = ALGORITHMS[config["agent"]]
    policy_kwargs = materialize_policy_kwargs(policy_kwargs)
    policy_kwargs["norm"] = config["norm"]
    extra = {"action_noise": _action_noise(config, env)} if config.get("action_noise") else {}
    return algorithm(
        WN_POLICIES[config["agent"]],
        env,
        seed=config["seed"],
        device=device,
        policy_kwargs=policy_kwargs,
        verbose=0,
        **extra,
        **materialize_hyperparams(hyperparams),
    )


def _preset_values(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hyperparameters and policy kwargs of the run's preset, before the user's --hp."""
    env_id = config["env"]
    family = env_family(env_id, action_space_name(env_id), is_atari(env_id))
    _, chosen = select_preset(config["agent"], family, config["preset"])
    chosen = apply_norm_overrides(chosen, config["norm"])
    return dict(chosen.get("hyperparams") or {}), dict(chosen.get("policy_kwargs") or {})


def _make_model(config: dict[str, Any], env: Any, device: str) -> BaseAlgorithm:
    """The run's SB3 model. SB3 and torch reject bad values with TypeError, ValueError or
    AssertionError; such an error is the user's (a ConfigError, exit 2) only when the preset's
    own values build: otherwise it is a defect and keeps its traceback (exit 1)."""
    try:
        return _construct(config, env, device, config["hyperparams"], config["policy_kwargs"])
    except WnrlError:
        raise
    except (TypeError, ValueError, AssertionError) as error:
        preset = _preset_values(config)
        if preset != (config["hyperparams"], config["policy_kwargs"]):
            try:
                _construct(config, env, device, *preset)
            except Exception:
                raise error from None  # the preset fails too: not the user's values
            raise ConfigError(
                f"invalid hyperparameters for {config['agent']}: {one_line(error)}"
            ) from error
        raise


def _callbacks(
    config: dict[str, Any], run_dir: Path, guard: RunGuard, progress: str, total: int
) -> tuple[list[BaseCallback], PeriodicEvaluation | None]:
    callbacks: list[BaseCallback] = [guard]
    if config["ddi"]:
        keep = config.get("ddi_heads") == "keep"
        callbacks.append(DataDependentInit(rescale_plain_heads=not keep))
    if uses_weight_norm(config["norm"]):
        callbacks.append(WeightNormLogger(every=config.get("weight_norm_log_every", 1000)))
    evaluation = None
    if config["eval"]["every"] > 0:
        frames = ATARI_FRAME_SKIP if is_atari(config["env"]) else 1
        evaluation = PeriodicEvaluation(run_dir, config, frames)
        callbacks.append(evaluation)
    if config["checkpoint_every"] > 0:
        callbacks.append(PeriodicCheckpoint(run_dir, config["checkpoint_every"], guard))
    if progress == "bar":
        callbacks.append(ProgressBarCallback())
    elif progress == "lines":
        callbacks.append(PlainProgress(total, every=max(1000, total // 20)))
    return callbacks, evaluation


def _progress_mode(progress: str) -> str:
    if progress == "auto":
        return "bar" if sys.stdout.isatty() else "lines"
    return progress


def _create_run_dir(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise WnrlError(f"cannot create run directory {run_dir}: {reason}") from error


def _run_lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One process at a time on a run (a second ``--resume`` would train it twice)."""
    return exclusive_lock(run_dir / LOCK, f"{run_dir} is in use by another wnrl process")


def start_run(
    config: dict[str, Any],
    progress: str = "auto",
    extra_callbacks: tuple = (),
    run_dir: Path | None = None,
) -> TrainResult:
    """Create the run directory (``run_dir``, or a new timestamped one), write config.yaml,
    and train. An explicit ``run_dir`` (sweeps) must not exist yet or be empty."""
    run_dir = Path(run_dir) if run_dir is not None else run_dir_for(config)
    if run_dir.exists() and any(p.name != LOCK for p in run_dir.iterdir()):
        raise WnrlError(f"run directory {run_dir} already exists and is not empty")
    _create_run_dir(run_dir)
    with _run_lock(run_dir):
        atomic_write_text(run_dir / CONFIG, yaml.safe_dump(config, sort_keys=False))
        return _train(config, run_dir, None, None, progress, extra_callbacks)


def _resume_point(run_dir: Path) -> Path | None:
    """The newest intact checkpoint (a one-line warning for each damaged one skipped), None for
    a run killed before its first checkpoint; WnrlError when there is none to resume from."""
    damaged = []
    for candidate in resume_candidates(run_dir):
        problem = verify_checkpoint(candidate)
        if problem is None:
            for name, why in damaged:
                print(
                    f"wnrl: warning: checkpoint {name} is damaged ({why}); "
                    f"resuming from {candidate.name}",
                    file=sys.stderr,
                )
            return candidate
        damaged.append((candidate.name, problem))
    if damaged:
        listed = "; ".join(f"{name}: {why}" for name, why in damaged)
        raise WnrlError(f"{run_dir} has no intact checkpoint to resume from ({listed})")
    if (run_dir / FINAL_MODEL).is_file():
        raise WnrlError(
            f"{run_dir} has no checkpoint to resume from (it finished, or never saved one)"
        )
    return None


def resume_run(
    run_dir: Path,
    steps: int | None = None,
    device: str | None = None,
    progress: str = "auto",
    extra_callbacks: tuple = (),
) -> TrainResult:
    """Continue an interrupted run from its newest intact checkpoint (same directory, logs and
    schedule). A run that cannot be resumed is left exactly as it was."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if steps is not None:
        config["n_timesteps"] = _positive("--steps", steps)
    if device is not None:
        config["device"] = device
    resolve_device(config["device"])
    with _run_lock(run_dir):
        checkpoint = _resume_point(run_dir)
        done_steps = checkpoint_step(checkpoint) if checkpoint is not None else 0
        total = config["n_timesteps"]
        if done_steps >= total:
            if checkpoint is not None and not (run_dir / FINAL_MODEL).is_file():
                # stopped after its last step, before the final model: the checkpoint is it
                finish_from_checkpoint(run_dir, checkpoint)
                print(f"{checkpoint.name} is at the final step: it is the run's {FINAL_MODEL}")
                return TrainResult(run_dir, "finished", done_steps)
            raise WnrlError(
                f"{run_dir} already reached {done_steps:,} of {total:,} steps; nothing to resume"
            )
        # from here on the run is resumed: its files may change
        discard_partial_writes(run_dir)
        atomic_write_text(run_dir / CONFIG, yaml.safe_dump(config, sort_keys=False))
        dropped = truncate_evaluations(run_dir, done_steps)
        return _train(config, run_dir, checkpoint, done_steps, progress, extra_callbacks, dropped)


def _train(
    config: dict[str, Any],
    run_dir: Path,
    checkpoint: Path | None,
    resumed_from: int | None,
    progress: str,
    extra_callbacks: tuple,
    dropped_evaluations: int = 0,
) -> TrainResult:
    """Train ``config`` in ``run_dir``: from scratch, or (``resumed_from`` set) continuing the
    run's logs from ``checkpoint`` (None: a run killed before its first checkpoint)."""
    device = resolve_device(config["device"])
    algorithm = ALGORITHMS[config["agent"]]
    done_steps = resumed_from or 0
    total = config["n_timesteps"]
    env = make_env(
        config["env"],
        n_envs=config["n_envs"],
        seed=config["seed"] + done_steps,
        backend=config["backend"],
        **config.get("env_kwargs", {}),
    )
    evaluation: PeriodicEvaluation | None = None
    logger: Logger | None = None
    guard = RunGuard()
    try:
        if checkpoint is not None:
            model = load_checkpoint(algorithm, checkpoint, env, device)
        else:
            model = _make_model(config, env, device)
        logger, dropped_rows = run_logger(run_dir, resumed_from)
        if resumed_from is not None:
            print(
                f"resuming {run_dir} at step {done_steps:,}"
                + (f" ({checkpoint.name})" if checkpoint is not None else " (no checkpoint yet)")
                + f": dropped {dropped_rows} progress.csv row(s) and {dropped_evaluations} "
                "evaluation(s) logged past it",
                flush=True,
            )
        model.set_logger(logger)
        callbacks, evaluation = _callbacks(config, run_dir, guard, _progress_mode(progress), total)
        guard.install()
        model.learn(
            total_timesteps=total - model.num_timesteps,
            callback=CallbackList([*callbacks, *extra_callbacks]),
            reset_num_timesteps=checkpoint is None,
        )
        guard.check_losses()
        if guard.diverged is None and not parameters_finite(model):
            guard.diverged = f"non-finite parameters at step {model.num_timesteps}"
        if guard.diverged is not None:
            last = latest_checkpoint(run_dir)
            kept = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
            raise TrainingDiverged(f"training diverged: {guard.diverged}; {kept}")
        if guard.signal_name is not None and model.num_timesteps < total:
            save_checkpoint(model, run_dir)
            return TrainResult(
                run_dir,
                "interrupted",
                model.num_timesteps,
                guard.signal_name,
                evaluation.results if evaluation else [],
            )
        if evaluation is not None and evaluation.last_step != model.num_timesteps:
            evaluation.evaluate()
        atomic_save_model(model, run_dir / FINAL_MODEL)
        return TrainResult(
            run_dir, "finished", model.num_timesteps, None, evaluation.results if evaluation else []
        )
    finally:
        guard.uninstall()
        if evaluation is not None:
            evaluation.close()
        if logger is not None:
            logger.close()  # flushes and closes progress.csv and the event file
        env.close()
