"""The resolved configuration of one run: a preset, the CLI's options and overrides, validated.

:func:`build_config` is what ``wnrl train`` and every sweep cell start from: it picks the preset
for the env's family, applies ``--hp`` overrides and checks every value, so a bad input is one
:class:`ConfigError` before anything is built. ``config.yaml`` in a run directory is its output.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from wnrl import __version__
from wnrl.envs.ids import canonical_env_id, is_atari
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.compiled_optimizer import require_cpp_compiler
from wnrl.experiment.presets import (
    ACTION_SPACES,
    apply_norm_overrides,
    check_agent,
    check_hyperparams,
    env_family,
    materialize_hyperparams,
    materialize_policy_kwargs,
    select_preset,
)
from wnrl.experiment.rundir import CONFIG, env_slug, read_config, run_name
from wnrl.names import COMPILE_CHOICES, DDI_HEADS, WEIGHT_NORM_LOG_EVERY, norm_refusal
from wnrl.nn.norms import check_norm, uses_weight_norm


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


def positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _default_ddi(norm: str, preset: dict[str, Any]) -> bool:
    """The data-dependent init (paper sec. 3) runs for the weight-norm norms unless the preset
    turns it off (``ddi: false``: the on-policy agents, see docs/results.md)."""
    setting = preset.get("ddi", True)
    if not isinstance(setting, bool):
        raise ConfigError(f"preset key ddi must be true or false, got {setting!r}")
    return uses_weight_norm(norm) and setting


def _anneal_exploration(config: dict[str, Any], preset: dict[str, Any], hp: dict[str, Any]) -> None:
    """A preset's ``exploration_steps`` (epsilon annealed over that many steps, as the MinAtar
    paper's 100k) -> SB3's ``exploration_fraction`` of this run's ``n_timesteps``, unless the
    user set the fraction with ``--hp``."""
    steps = preset.get("exploration_steps")
    if steps is None or "exploration_fraction" in hp:
        return
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"preset key exploration_steps must be a positive integer, got {steps!r}")
    config["hyperparams"]["exploration_fraction"] = min(1.0, steps / config["n_timesteps"])


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
    flush_subnormals: bool = True,
    compile_optimizer: str = COMPILE_CHOICES[0],
) -> dict[str, Any]:
    """The fully resolved configuration of a run (plain YAML data), validated."""
    agent = check_agent(agent)
    try:
        norm = check_norm(norm)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    if compile_optimizer == "on":
        require_cpp_compiler()
    refusal = norm_refusal((agent,), norm)
    if refusal is not None:
        raise ConfigError(refusal)
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
        "n_timesteps": positive_int(
            "--steps", steps if steps is not None else chosen["n_timesteps"]
        ),
        "n_envs": positive_int(
            "--n-envs", n_envs if n_envs is not None else chosen.get("n_envs", 1)
        ),
        "device": device,
        "backend": backend,
        "env_kwargs": dict(chosen.get("env_kwargs") or {}),
        "ddi": _default_ddi(norm, chosen) if ddi is None else bool(ddi),
        "ddi_heads": _choice("--ddi-heads", ddi_heads, DDI_HEADS),
        "weight_norm_log_every": WEIGHT_NORM_LOG_EVERY,
        "flush_subnormals": bool(flush_subnormals),
        "compile_optimizer": _choice("--compile-optimizer", compile_optimizer, COMPILE_CHOICES),
        "eval": {
            "every": int(evaluation.get("every", 0)),
            "episodes": positive_int("--eval-episodes", int(evaluation.get("episodes", 10))),
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
    _anneal_exploration(config, chosen, hp or {})
    if config["eval"]["every"] < 0 or config["checkpoint_every"] < 0:
        raise ConfigError("--eval-every and --checkpoint-every must be >= 0 (0: never)")
    resolve_device(device)
    return config


def run_dir_for(config: dict[str, Any]) -> Path:
    """``<logdir>/<env>/<agent>-<norm>-s<seed>-<time>``, made unique if needed."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = run_name(config["agent"], config["norm"], config["seed"])
    base = Path(config["logdir"]) / env_slug(config["env"]) / f"{name}-{stamp}"
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
