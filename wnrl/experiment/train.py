"""``wnrl train``: one training run, from a preset to a run directory.

A run directory (``<logdir>/<env>/<agent>-<norm>-s<seed>-<time>/``) holds:

* ``config.yaml``: the fully resolved configuration (enough to resume or evaluate the run);
* ``events.out.tfevents.*`` and ``progress.csv``: SB3's logger (TensorBoard and CSV): learning
  curves (``rollout/ep_rew_mean`` is the real game score), losses, ``weight_norm/*`` (sec. 2.1),
  ``ddi/*`` (sec. 3) and ``eval/*``;
* ``evaluations.csv``: one row per periodic evaluation (step, frames, mean, std, max, min,
  episodes), the paper's "maximum test score" is the max over its ``mean`` column;
* ``checkpoints/``: atomic checkpoints (:mod:`wnrl.experiment.checkpoints`), the newest two kept;
* ``model.zip``: the final model, loadable with ``DQN.load`` etc. after ``import wnrl``.

Ctrl-C / SIGTERM stop at the next step, write a checkpoint and return ``"interrupted"``;
``resume_run`` continues the same run (same TensorBoard directory, step count and schedules).
A non-finite loss or parameter stops the run (``TrainingDiverged``) without overwriting the last
good checkpoint.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList, ProgressBarCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

from wnrl.atari_settings import FRAME_SKIP
from wnrl.envs.factory import make_env
from wnrl.envs.ids import is_atari
from wnrl.errors import ConfigError, TrainingDiverged, WnrlError, one_line
from wnrl.experiment.checkpoints import (
    atomic_save_model,
    atomic_write_text,
    checkpoint_step,
    discard_partial_writes,
    finish_from_checkpoint,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from wnrl.experiment.compiled_optimizer import compile_optimizers
from wnrl.experiment.config import (
    action_space_name,
    positive_int,
    read_run_config,
    resolve_device,
    run_dir_for,
)
from wnrl.experiment.float_mode import flushing_subnormals
from wnrl.experiment.locks import exclusive_lock
from wnrl.experiment.presets import (
    ALGORITHMS,
    apply_norm_overrides,
    env_family,
    materialize_hyperparams,
    materialize_policy_kwargs,
    select_preset,
)
from wnrl.experiment.run_callbacks import (
    PeriodicCheckpoint,
    PeriodicEvaluation,
    PlainProgress,
    RunGuard,
    parameters_finite,
)
from wnrl.experiment.run_logs import run_logger, truncate_evaluations
from wnrl.experiment.run_state import run_state
from wnrl.experiment.rundir import CONFIG, FINAL_MODEL, LOCK
from wnrl.nn.norms import uses_weight_norm
from wnrl.sb3.callbacks import DataDependentInit, WeightNormLogger
from wnrl.sb3.policies import WN_POLICIES


@dataclass
class TrainResult:
    run_dir: Path
    status: str  # "finished" | "interrupted"
    num_timesteps: int
    signal_name: str | None = None
    evaluations: list[dict[str, float]] = field(default_factory=list)


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


def make_model(config: dict[str, Any], env: Any, device: str) -> BaseAlgorithm:
    """The run's SB3 model, new (what ``wnrl train`` builds for ``config`` on ``env``; the
    benchmarks build it too). SB3 and torch reject bad values with TypeError, ValueError or
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
        callbacks.append(WeightNormLogger(every=config["weight_norm_log_every"]))
    evaluation = None
    if config["eval"]["every"] > 0:
        frames = FRAME_SKIP if is_atari(config["env"]) else 1
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
    with _run_lock(run_dir), flushing_subnormals(config["flush_subnormals"]):
        atomic_write_text(run_dir / CONFIG, yaml.safe_dump(config, sort_keys=False))
        return _train(config, run_dir, None, None, progress, extra_callbacks)


def _resume_point(run_dir: Path) -> Path | None:
    """The newest intact checkpoint (:func:`~wnrl.experiment.run_state.run_state`; a one-line
    warning for each damaged one skipped), None for a run killed before its first checkpoint;
    WnrlError when there is none to resume from."""
    state = run_state(run_dir)
    if state.kind == "damaged":
        raise state.no_intact_checkpoint()
    if state.kind == "finished" and state.checkpoint is None:
        raise WnrlError(
            f"{run_dir} has no checkpoint to resume from (it finished, or never saved one)"
        )
    for warning in state.warnings():
        print(f"wnrl: warning: {warning}", file=sys.stderr)
    return state.checkpoint


def resume_run(
    run_dir: Path,
    steps: int | None = None,
    device: str | None = None,
    progress: str = "auto",
    extra_callbacks: tuple = (),
    compile_optimizer: str | None = None,
) -> TrainResult:
    """Continue an interrupted run from its newest intact checkpoint (same directory, logs and
    schedule). A run that cannot be resumed is left exactly as it was. ``steps``, ``device``
    and ``compile_optimizer`` replace the run's own settings when given."""
    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    if steps is not None:
        config["n_timesteps"] = positive_int("--steps", steps)
    if device is not None:
        config["device"] = device
    if compile_optimizer is not None:
        config["compile_optimizer"] = compile_optimizer
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
        with flushing_subnormals(config["flush_subnormals"]):
            return _train(
                config, run_dir, checkpoint, done_steps, progress, extra_callbacks, dropped
            )


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
    run's logs from ``checkpoint`` (None: a run killed before its first checkpoint). The callers
    hold the run's lock and its float mode (:mod:`wnrl.experiment.float_mode`)."""
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
            model = make_model(config, env, device)
        compiling = compile_optimizers(model, config)
        if compiling is not None:
            print(compiling, flush=True)
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
