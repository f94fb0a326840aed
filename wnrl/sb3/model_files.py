"""Load SB3 model files holding wnrl policies: algorithm detection and a pickle-free loader.

An SB3 model file is a zip archive: ``data`` (JSON; every value that is not plain JSON is a
cloudpickled object, base64-encoded under ``":serialized:"``, next to its first-level
attributes in readable form), ``policy.pth`` / ``*.optimizer.pth`` (state dicts) and
``pytorch_variables.pth`` (e.g. SAC's ``log_ent_coef``), the ``.pth`` entries written by
``torch.save``.

* :func:`detect_algorithm` reads the ``data`` JSON only (``json.loads``, never unpickling) and
  names the algorithm class that saved the file.
* :func:`load` with ``weights_only=False`` is SB3's own ``Algorithm.load``: it unpickles the
  cloudpickled objects, which runs whatever code the file carries; use it for trusted files.
* :func:`load` with ``weights_only=True`` never unpickles anything from the file. It rebuilds
  the model from wnrl's own policy classes, the plain-JSON hyperparameters, the spaces'
  readable description (or ``env=``) and a whitelist of classes for ``policy_kwargs``, then
  loads the tensors with ``torch.load(weights_only=True)``. Anything that would need
  unpickling is refused with a :class:`~wnrl.errors.WnrlError`.

Hyperparameters that SB3 stored only in pickled form (``train_freq``, ``action_noise``,
non-constant schedules, replay buffer classes...) keep the algorithm's defaults under
``weights_only=True``; prediction does not depend on them, continued training may.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnrl.errors import WnrlError, error_summary, shortened
from wnrl.sb3 import policies, policy_names
from wnrl.sb3.refusals import loading_saved_models
from wnrl.sb3.saved_data import TRUST_HINT, read_data, resolve_path
from wnrl.sb3.saved_hyperparameters import _safe_hyperparameters, policy_kwargs_from_json
from wnrl.sb3.saved_spaces import _spaces

if TYPE_CHECKING:
    import torch
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.type_aliases import GymEnv


#: algorithm name -> (module, attribute) of its class (imported on demand)
_ALGORITHMS: dict[str, tuple[str, str]] = {
    "DQN": ("stable_baselines3", "DQN"),
    "QRDQN": ("sb3_contrib", "QRDQN"),
    "PPO": ("stable_baselines3", "PPO"),
    "A2C": ("stable_baselines3", "A2C"),
    "SAC": ("stable_baselines3", "SAC"),
    "TD3": ("stable_baselines3", "TD3"),
}


_ACTOR_CRITIC = "actor_critic"  # PPO or A2C: one policy class, told apart by the data


#: wnrl policy family (class attribute ``_wnrl_family``) -> algorithm name
_FAMILIES: dict[str, str] = {
    "dqn": "DQN",
    "qrdqn": "QRDQN",
    "actor_critic": _ACTOR_CRITIC,
    "sac": "SAC",
    "td3": "TD3",
}


#: module of SB3's / sb3-contrib's own policy classes -> algorithm name
_SB3_POLICY_MODULES: dict[str, str] = {
    "stable_baselines3.dqn.policies": "DQN",
    "sb3_contrib.qrdqn.policies": "QRDQN",
    "stable_baselines3.common.policies": _ACTOR_CRITIC,
    "stable_baselines3.sac.policies": "SAC",
    "stable_baselines3.td3.policies": "TD3",
}


def _algorithm_class(name: str) -> type[BaseAlgorithm]:
    module, attribute = _ALGORITHMS[name]
    return getattr(importlib.import_module(module), attribute)


def _actor_critic_algorithm(data: dict[str, Any], file: Path) -> str:
    """PPO or A2C, which share a policy class: PPO saves ``clip_range``, A2C no ``batch_size``."""
    if "clip_range" in data:
        return "PPO"
    if "batch_size" not in data and "gae_lambda" in data:
        return "A2C"
    raise WnrlError(f"cannot tell which algorithm saved {file}: an actor-critic, not PPO or A2C")


def _algorithm_name(data: dict[str, Any], file: Path) -> str:
    """The algorithm that saved ``data``: from the policy's ``_wnrl_family`` or module."""
    policy = data.get("policy_class")
    if not isinstance(policy, dict):
        raise WnrlError(f"corrupt model file {file}: its data names no policy class")
    family, module = policy.get("_wnrl_family"), policy.get("__module__")
    name = _FAMILIES.get(family) if isinstance(family, str) else None
    if name is None and isinstance(module, str):
        name = _SB3_POLICY_MODULES.get(module)
    if name is None:
        known = ", ".join(_ALGORITHMS)
        raise WnrlError(
            f"cannot tell which algorithm saved {file}: policy class from module "
            f"{shortened(module)!s} is not a {known} policy"
        )
    return _actor_critic_algorithm(data, file) if name == _ACTOR_CRITIC else name


def detect_algorithm(path: str | os.PathLike[str]) -> type[BaseAlgorithm]:
    """The SB3 algorithm class (DQN, QRDQN, PPO, A2C, SAC, TD3) that saved the model at ``path``.

    Reads only the zip's ``data`` JSON (``json.loads``; nothing is unpickled). wnrl policies are
    recognized by their ``_wnrl_family``, SB3's own by their module; PPO and A2C (one policy
    class) by PPO's ``clip_range``. Raises :class:`~wnrl.errors.WnrlError` for anything else.
    """
    file = resolve_path(path)
    return _algorithm_class(_algorithm_name(read_data(file, require_params=False), file))


def load(
    path: str | os.PathLike[str],
    env: GymEnv | None = None,
    device: str | torch.device = "auto",
    weights_only: bool = False,
    **kwargs: Any,
) -> BaseAlgorithm:
    """Load an SB3 model file of any algorithm wnrl supports, detecting the algorithm.

    ``weights_only=False``: SB3's own ``Algorithm.load(path, env=env, device=device, **kwargs)``,
    which unpickles the file's cloudpickled objects (code runs): for trusted files only.
    ``weights_only=True``: nothing from the file is unpickled; the policy must be one of
    :mod:`wnrl.policies`' classes, and the spaces come from ``env`` when given (checked against
    the file's description) or from the file's readable description. ``kwargs`` are set on the
    model like SB3's load does (``custom_objects`` replaces the named data entries).
    Every problem with the file raises :class:`~wnrl.errors.WnrlError` with a one-line message.
    """
    file = resolve_path(path)
    data = read_data(file)
    algorithm = _algorithm_class(_algorithm_name(data, file))
    with loading_saved_models():
        if weights_only:
            return _load_weights_only(algorithm, file, data, env, device, kwargs)
        return _load_pickled(algorithm, file, env, device, kwargs)


def _load_pickled(
    algorithm: type[BaseAlgorithm],
    file: Path,
    env: GymEnv | None,
    device: str | torch.device,
    kwargs: dict[str, Any],
) -> BaseAlgorithm:
    try:
        return algorithm.load(file, env=env, device=device, **kwargs)
    except WnrlError:
        raise
    except Exception as error:  # corrupt pickles, tensors, spaces: one line for the user
        raise WnrlError(
            f"cannot load {algorithm.__name__} model {file}: {error_summary(error)}"
        ) from error


def _load_weights_only(
    algorithm: type[BaseAlgorithm],
    file: Path,
    data: dict[str, Any],
    env: GymEnv | None,
    device: str | torch.device,
    kwargs: dict[str, Any],
) -> BaseAlgorithm:
    """Rebuild the model as SB3's ``BaseAlgorithm.load`` does, from safe inputs only."""
    overrides = dict(kwargs.pop("custom_objects", None) or {})
    kwargs.pop("print_system_info", None)
    kwargs.pop("force_reset", None)  # nothing of the last rollout is restored anyway
    policy_class = _wnrl_policy_class(data, file)
    if "policy_kwargs" in overrides:
        policy_kwargs = overrides.pop("policy_kwargs")
    else:
        policy_kwargs = policy_kwargs_from_json(data.get("policy_kwargs"), file)
    if "policy_kwargs" in kwargs and kwargs["policy_kwargs"] != policy_kwargs:
        raise WnrlError(f"{file}: the given policy_kwargs differ from the stored {policy_kwargs}")
    verbose = data.get("verbose", 0) if isinstance(data.get("verbose"), int) else 0
    vec_env = algorithm._wrap_env(env, verbose) if env is not None else None
    observation_space, action_space = _spaces(data, vec_env, file, overrides)
    try:
        model = algorithm(
            policy=policy_class,
            env=vec_env,
            device=device,
            _init_setup_model=False,  # type: ignore[call-arg]
        )
        state = _safe_hyperparameters(data, model)
        state["policy_kwargs"] = policy_kwargs
        state["observation_space"] = observation_space
        state["action_space"] = action_space
        state["n_envs"] = vec_env.num_envs if vec_env is not None else _n_envs(data)
        state.update(overrides)
        model.__dict__.update(state)
        model.__dict__.update(kwargs)
        model._setup_model()
    except WnrlError:
        raise
    except Exception as error:
        raise WnrlError(f"cannot rebuild the model of {file}: {error_summary(error)}") from error
    _restore_tensors(model, file, device)
    if model.use_sde:
        model.policy.reset_noise()  # type: ignore[operator]
    return model


def _wnrl_policy_class(data: dict[str, Any], file: Path) -> type:
    """The wnrl policy class the data declares; WnrlError for any other policy."""

    policy = data.get("policy_class")
    declared = policy if isinstance(policy, dict) else {}
    key = (declared.get("_wnrl_family"), declared.get("_wnrl_variant"))
    module = declared.get("__module__")
    modules = {policies.__name__, policy_names.__name__}
    classes = {
        (cls._wnrl_family, cls.__dict__.get("_wnrl_variant")): cls
        for source in (policies, policy_names)
        for cls in vars(source).values()
        if isinstance(cls, type) and cls.__module__ in modules
        if isinstance(cls.__dict__.get("_wnrl_family"), str)
    }
    if module not in modules or key not in classes:
        raise WnrlError(
            f"{file}: its policy class (from module {shortened(module)}) is not a wnrl policy and "
            f"cannot be loaded without unpickling; {TRUST_HINT}"
        )
    return classes[key]


def _n_envs(data: dict[str, Any]) -> int:
    n_envs = data.get("n_envs", 1)
    return n_envs if isinstance(n_envs, int) and not isinstance(n_envs, bool) and n_envs > 0 else 1


def _restore_tensors(model: BaseAlgorithm, file: Path, device: str | torch.device) -> None:
    """Load the ``.pth`` state dicts and PyTorch variables (``torch.load(weights_only=True)``)."""
    import torch
    from stable_baselines3.common.save_util import (
        load_from_zip_file,
        recursive_getattr,
        recursive_setattr,
    )

    try:
        _, params, variables = load_from_zip_file(file, load_data=False, device=device)
    except Exception as error:  # torch's safe unpickler refuses non-tensor content
        raise WnrlError(f"cannot read the tensors of {file}: {error_summary(error)}") from error
    mismatch = f"contents of {file} do not match its declared {type(model.policy).__name__}"
    expected, variable_names = model._get_torch_save_params()
    if set(params) != set(expected):
        raise WnrlError(f"{mismatch}: state dicts {sorted(params)}, expected {sorted(expected)}")
    try:
        model.set_parameters(params, exact_match=True, device=device)
    except Exception as error:  # missing / unexpected keys, wrong shapes, optimizer groups
        raise WnrlError(f"{mismatch}: {error_summary(error)}") from error
    for name, value in (variables or {}).items():
        if value is None:
            continue  # SB3 skips variables stored as None (e.g. a fixed SAC ent_coef)
        current = recursive_getattr(model, name) if name in variable_names else None
        if not isinstance(value, torch.Tensor) or not isinstance(current, torch.Tensor):
            raise WnrlError(f"{mismatch}: unexpected PyTorch variable {name!r}")
        if value.shape != current.shape:
            raise WnrlError(f"{mismatch}: {name} has shape {tuple(value.shape)}")
        recursive_setattr(model, f"{name}.data", value.data)
