"""Agent presets (``agents/*.yaml``) and environment suites (``envs/*.yaml``).

The YAML files ship inside the wheel (package data ``wnrl._agents`` / ``wnrl._suites``, mapped
from the repository's top-level ``agents/`` and ``envs/``). A preset is a mapping with
``family`` (atari, minatar, classic or continuous), ``n_timesteps``, ``n_envs``, ``eval``,
``checkpoint_every``, ``hyperparams`` (arguments of the SB3 algorithm), ``policy_kwargs`` (of
the wnrl policy), optional ``action_noise``, ``norm_overrides``, ``env_kwargs``, ``ddi`` and
``exploration_steps`` (DQN-style epsilon annealed over this many steps whatever ``--steps`` is).
"""

from __future__ import annotations

import copy
import difflib
import inspect
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
import yaml
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.utils import LinearSchedule

from wnrl.envs.ids import is_minatar
from wnrl.errors import ConfigError
from wnrl.names import AGENTS
from wnrl.sb3.buffers import AtariReplayBuffer

#: the SB3 class of each agent of :data:`wnrl.names.AGENTS`, in that order
ALGORITHMS: dict[str, type[BaseAlgorithm]] = dict(
    zip(AGENTS, (DQN, QRDQN, PPO, A2C, SAC, TD3), strict=True)
)
#: which action spaces each agent can act in
ACTION_SPACES: dict[str, tuple[str, ...]] = {
    "dqn": ("Discrete",),
    "qrdqn": ("Discrete",),
    "ppo": ("Discrete", "Box", "MultiDiscrete", "MultiBinary"),
    "a2c": ("Discrete", "Box", "MultiDiscrete", "MultiBinary"),
    "sac": ("Box",),
    "td3": ("Box",),
}
FAMILIES = ("atari", "minatar", "classic", "continuous")
_PACKAGED = {"agents": "_agents", "envs": "_suites"}
_PRESET_KEYS = {
    "description",
    "family",
    "n_timesteps",
    "n_envs",
    "eval",
    "checkpoint_every",
    "hyperparams",
    "policy_kwargs",
    "action_noise",
    "norm_overrides",
    "env_kwargs",
    "ddi",
    "exploration_steps",
}
#: policy_kwargs values given by name in YAML
_NAMED_CLASSES: dict[str, type] = {
    **{name: getattr(torch.optim, name) for name in ("Adam", "AdamW", "Adamax", "RMSprop", "SGD")},
    "RMSpropTFLike": RMSpropTFLike,
    **{
        name: getattr(torch.nn, name)
        for name in ("ReLU", "Tanh", "ELU", "GELU", "SiLU", "LeakyReLU")
    },
}


def check_agent(agent: str) -> str:
    """The agent name, lower-cased, or a ConfigError naming the known agents."""
    name = agent.lower()
    if name not in AGENTS:
        raise ConfigError(
            f"unknown agent {agent!r}{_did_you_mean(name, AGENTS)}; "
            f"choose one of {', '.join(AGENTS)}"
        )
    return name


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _data_dir(kind: str) -> Traversable:
    """``agents`` or ``envs``: packaged as ``wnrl/_agents``, ``wnrl/_suites`` in the wheel; the
    repository's top-level folders in a source checkout (editable install)."""
    packaged = resources.files("wnrl").joinpath(_PACKAGED[kind])
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / kind


def _read_yaml(kind: str, name: str) -> Any:
    path = _data_dir(kind).joinpath(f"{name}.yaml")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{kind}/{name}.yaml is not valid YAML: {error}") from error


@cache
def agent_presets(agent: str) -> dict[str, dict[str, Any]]:
    """All presets of an agent, as written in ``agents/<agent>.yaml`` (validated)."""
    presets = _read_yaml("agents", check_agent(agent))
    if not isinstance(presets, dict):
        raise ConfigError(f"agents/{agent}.yaml must map preset names to presets")
    for name, preset in presets.items():
        unknown = set(preset) - _PRESET_KEYS
        if unknown:
            raise ConfigError(
                f"agents/{agent}.yaml preset {name!r}: unknown key(s) {sorted(unknown)}"
            )
        if preset.get("family") not in FAMILIES:
            raise ConfigError(
                f"agents/{agent}.yaml preset {name!r}: family must be one of {FAMILIES}"
            )
    return presets


def suite_names() -> list[str]:
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in _data_dir("envs").iterdir()
        if entry.name.endswith(".yaml")
    )


@cache
def suite(name: str) -> dict[str, Any]:
    """An environment suite: ``{"description": ..., "envs": [...]}``."""
    names = suite_names()
    if name not in names:
        raise ConfigError(
            f"unknown env suite {name!r}{_did_you_mean(name, names)}; "
            f"choose one of {', '.join(names)}"
        )
    data = _read_yaml("envs", name)
    if not isinstance(data, dict) or not isinstance(data.get("envs"), list):
        raise ConfigError(f"envs/{name}.yaml must have a list 'envs'")
    return data


def env_family(env_id: str, action_space_name: str, atari: bool) -> str:
    """The preset family of an env: atari, minatar, continuous (Box actions) or classic."""
    if atari:
        return "atari"
    if is_minatar(env_id):
        return "minatar"
    return "continuous" if action_space_name == "Box" else "classic"


def select_preset(agent: str, family: str, preset: str | None) -> tuple[str, dict[str, Any]]:
    """The named preset (checked against the env's family), or the family's default preset."""
    presets = agent_presets(agent)
    if preset is None:
        if family not in presets:
            raise ConfigError(
                f"{agent} has no preset for {family} environments; "
                f"choose one with --preset ({', '.join(presets)})"
            )
        preset = family
    if preset not in presets:
        raise ConfigError(
            f"unknown preset {preset!r} for {agent}{_did_you_mean(preset, presets)}; "
            f"choose one of {', '.join(presets)}"
        )
    chosen = copy.deepcopy(presets[preset])
    if chosen["family"] != family:
        raise ConfigError(
            f"preset {agent}/{preset} is for {chosen['family']} environments, not {family} ones"
        )
    return preset, chosen


def apply_norm_overrides(preset: dict[str, Any], norm: str) -> dict[str, Any]:
    """The preset with ``norm_overrides[norm]`` merged into its sections."""
    result = copy.deepcopy(preset)
    override = (result.pop("norm_overrides", None) or {}).get(norm, {})
    for section, values in override.items():
        if isinstance(values, dict):
            result.setdefault(section, {}).update(values)
        else:
            result[section] = values
    return result


def parse_value(text: str) -> Any:
    """A ``--hp`` value: YAML (numbers, lists, dicts, booleans, null), with ``1e-4`` a float."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"cannot parse value {text!r}: {error.problem}") from error
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
        except ValueError:
            return value
    return value


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["learning_rate=1e-4", "policy_kwargs.net_arch=[64,64]"]`` -> nested dict."""
    result: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--hp expects key=value, got {item!r}")
        target = result
        *parents, leaf = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = parse_value(text)
    return result


def algorithm_parameters(agent: str) -> set[str]:
    signature = inspect.signature(ALGORITHMS[agent].__init__)
    return {name for name in signature.parameters if name not in ("self", "policy", "env")}


def check_hyperparams(agent: str, hyperparams: dict[str, Any]) -> None:
    """Unknown keys (with a suggestion) and reserved ones are one-line errors."""
    known = algorithm_parameters(agent)
    reserved = {"policy_kwargs", "seed", "device", "tensorboard_log", "verbose", "action_noise"}
    for key in hyperparams:
        if key in reserved:
            raise ConfigError(f"hyperparameter {key!r} is set by wnrl itself, not through --hp")
        if key not in known:
            raise ConfigError(
                f"unknown hyperparameter {key!r} for {agent}"
                f"{_did_you_mean(key, known)}; see `wnrl list --agent {agent}`"
            )


def schedule(value: Any, key: str) -> Any:
    """``"lin_<x>"`` -> SB3's linear schedule from x to 0 (RL Zoo's convention)."""
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            start = float(value[4:])
        except ValueError as error:
            raise ConfigError(f"{key}: bad linear schedule {value!r}") from error
        return LinearSchedule(start, 0.0, 1.0)
    return value


def _replay_buffer_classes() -> dict[str, type]:
    return {"AtariReplayBuffer": AtariReplayBuffer, "ReplayBuffer": ReplayBuffer}


def materialize_hyperparams(hyperparams: dict[str, Any]) -> dict[str, Any]:
    """YAML values -> SB3 constructor values (schedules, buffer classes by name, and a clear
    error for bad numbers)."""
    result = {}
    for key, value in hyperparams.items():
        value = schedule(value, key)
        if key == "replay_buffer_class" and isinstance(value, str):
            classes = _replay_buffer_classes()
            if value not in classes:
                raise ConfigError(
                    f"replay_buffer_class: unknown {value!r}{_did_you_mean(value, classes)}; "
                    f"choose one of {', '.join(classes)}"
                )
            value = classes[value]
        if key in ("learning_rate", "clip_range") and isinstance(value, str):
            raise ConfigError(f"{key} must be a number or 'lin_<number>', got {value!r}")
        result[key] = value
    return result


def materialize_policy_kwargs(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Class names given as strings (``optimizer_class: Adamax``) -> the classes."""
    result = dict(policy_kwargs)
    for key in ("optimizer_class", "activation_fn"):
        if isinstance(result.get(key), str):
            name = result[key]
            if name not in _NAMED_CLASSES:
                raise ConfigError(
                    f"policy_kwargs.{key}: unknown {name!r}{_did_you_mean(name, _NAMED_CLASSES)}"
                )
            result[key] = _NAMED_CLASSES[name]
    return result
