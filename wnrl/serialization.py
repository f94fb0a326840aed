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
import json
import math
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnrl.errors import WnrlError

if TYPE_CHECKING:
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.type_aliases import GymEnv

__all__ = ["detect_algorithm", "load", "space_from_json", "policy_kwargs_from_json"]

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
_WNRL_POLICY_MODULE = "wnrl.policies"
_SERIALIZED = ":serialized:"
_TYPE = ":type:"
_TRUST_HINT = "use weights_only=False if you trust the file"
_ENV_HINT = "pass env= with the model's environment to load it with weights_only=True"

# ----------------------------------------------------------------------------- errors


def _one_line(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, shortened: for one-line WnrlError messages."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _CannotRebuild(Exception):
    """A space description in the JSON that does not determine the space exactly."""


# ----------------------------------------------------------------------------- the file


def _resolve_path(path: str | os.PathLike[str]) -> Path:
    """The model file: ``path`` itself, else ``path + ".zip"`` as SB3 tries; WnrlError if none."""
    given = Path(path)
    for candidate in (given, Path(f"{given}.zip")):
        if candidate.is_file():
            return candidate
    if given.is_dir():
        raise WnrlError(f"model file {given} is a directory, not an SB3 model zip")
    raise WnrlError(f"model file not found: {given}")


def _read_data(file: Path, require_params: bool = True) -> dict[str, Any]:
    """The ``data`` entry of an SB3 zip, parsed with ``json.loads`` (nothing is unpickled)."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "data" not in names:
                raise WnrlError(f"{file} is not an SB3 model file: it has no 'data' entry")
            if require_params and "policy.pth" not in names:
                raise WnrlError(f"{file} is not an SB3 model file: it has no 'policy.pth' entry")
            raw = archive.read("data")
    except zipfile.BadZipFile as error:
        raise WnrlError(f"{file} is not an SB3 model file (not a zip archive)") from error
    except (OSError, EOFError, RuntimeError) as error:  # truncated / unreadable archive
        raise WnrlError(f"cannot read model file {file}: {_one_line(error)}") from error
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WnrlError(f"corrupt model file {file}: its 'data' entry is not valid JSON") from error
    if not isinstance(data, dict):
        raise WnrlError(f"corrupt model file {file}: its 'data' entry is not a JSON object")
    return data


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
            f"{_short(module)!s} is not a {known} policy"
        )
    return _actor_critic_algorithm(data, file) if name == _ACTOR_CRITIC else name


def detect_algorithm(path: str | os.PathLike[str]) -> type[BaseAlgorithm]:
    """The SB3 algorithm class (DQN, QRDQN, PPO, A2C, SAC, TD3) that saved the model at ``path``.

    Reads only the zip's ``data`` JSON (``json.loads``; nothing is unpickled). wnrl policies are
    recognized by their ``_wnrl_family``, SB3's own by their module; PPO and A2C (one policy
    class) by PPO's ``clip_range``. Raises :class:`~wnrl.errors.WnrlError` for anything else.
    """
    file = _resolve_path(path)
    return _algorithm_class(_algorithm_name(_read_data(file, require_params=False), file))


# ----------------------------------------------------------------------------- load


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
    file = _resolve_path(path)
    data = _read_data(file)
    algorithm = _algorithm_class(_algorithm_name(data, file))
    if weights_only:
        return _load_weights_only(algorithm, file, data, env, device, kwargs)
    try:
        return algorithm.load(file, env=env, device=device, **kwargs)
    except WnrlError:
        raise
    except Exception as error:  # corrupt pickles, tensors, spaces: one line for the user
        raise WnrlError(
            f"cannot load {algorithm.__name__} model {file}: {_one_line(error)}"
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
        raise WnrlError(f"cannot rebuild the model of {file}: {_one_line(error)}") from error
    _restore_tensors(model, file, device)
    if model.use_sde:
        model.policy.reset_noise()  # type: ignore[operator]
    return model


def _wnrl_policy_class(data: dict[str, Any], file: Path) -> type:
    """The wnrl policy class the data declares; WnrlError for any other policy."""
    from wnrl import policies

    policy = data.get("policy_class")
    declared = policy if isinstance(policy, dict) else {}
    key = (declared.get("_wnrl_family"), declared.get("_wnrl_variant"))
    module = declared.get("__module__")
    classes = {
        (cls._wnrl_family, cls.__dict__.get("_wnrl_variant")): cls
        for cls in vars(policies).values()
        if isinstance(cls, type) and cls.__module__ == policies.__name__
        if isinstance(cls.__dict__.get("_wnrl_family"), str)
    }
    if module != _WNRL_POLICY_MODULE or key not in classes:
        raise WnrlError(
            f"{file}: its policy class (from module {_short(module)}) is not a wnrl policy and "
            f"cannot be loaded without unpickling; {_TRUST_HINT}"
        )
    return classes[key]


def _n_envs(data: dict[str, Any]) -> int:
    n_envs = data.get("n_envs", 1)
    return n_envs if isinstance(n_envs, int) and not isinstance(n_envs, bool) and n_envs > 0 else 1


# ----------------------------------------------------------------------------- tensors


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
        raise WnrlError(f"cannot read the tensors of {file}: {_one_line(error)}") from error
    mismatch = f"contents of {file} do not match its declared {type(model.policy).__name__}"
    expected, variable_names = model._get_torch_save_params()
    if set(params) != set(expected):
        raise WnrlError(f"{mismatch}: state dicts {sorted(params)}, expected {sorted(expected)}")
    try:
        model.set_parameters(params, exact_match=True, device=device)
    except Exception as error:  # missing / unexpected keys, wrong shapes, optimizer groups
        raise WnrlError(f"{mismatch}: {_one_line(error)}") from error
    for name, value in (variables or {}).items():
        if value is None:
            continue  # SB3 skips variables stored as None (e.g. a fixed SAC ent_coef)
        current = recursive_getattr(model, name) if name in variable_names else None
        if not isinstance(value, torch.Tensor) or not isinstance(current, torch.Tensor):
            raise WnrlError(f"{mismatch}: unexpected PyTorch variable {name!r}")
        if value.shape != current.shape:
            raise WnrlError(f"{mismatch}: {name} has shape {tuple(value.shape)}")
        recursive_setattr(model, f"{name}.data", value.data)


# ----------------------------------------------------------------------------- hyperparameters

#: data keys set by the loader itself, never copied from the file
_LOADER_KEYS = frozenset(
    {"policy_class", "policy_kwargs", "observation_space", "action_space", "env", "device"}
    | {"policy", "n_envs", "lr_schedule"}
)
#: private plain-JSON counters worth restoring; every other private key is runtime state
_PRIVATE_COUNTERS = frozenset(
    {"_total_timesteps", "_num_timesteps_at_start", "_n_updates", "_n_calls", "_episode_num"}
    | {"_stats_window_size", "_current_progress_remaining"}
)
_PLAIN_TYPES = (type(None), bool, int, float, str, list, tuple, dict)
_CONSTANT_SCHEDULE = re.compile(r"ConstantSchedule\(val=([-+0-9.eE]+|[-+]?inf)\)")
_FLOAT_SCHEDULE = "<class 'stable_baselines3.common.utils.FloatSchedule'>"


def _constant_schedule(value: dict[str, Any]) -> float | None:
    """The value of a pickled ``FloatSchedule(ConstantSchedule(val=x))``, read from its JSON."""
    if value.get(_TYPE) != _FLOAT_SCHEDULE or not isinstance(value.get("value_schedule"), str):
        return None
    match = _CONSTANT_SCHEDULE.fullmatch(value["value_schedule"])
    return float(match.group(1)) if match else None


def _safe_hyperparameters(data: dict[str, Any], model: BaseAlgorithm) -> dict[str, Any]:
    """The plain-JSON data entries that replace an existing plain attribute of ``model``.

    Skips every ``":serialized:"`` entry (except constant float schedules such as PPO's
    ``clip_range``, read from their JSON text), private runtime state (``_last_obs``...) and
    anything that is not already a plain attribute of the freshly built model.
    """
    current = model.__dict__
    safe: dict[str, Any] = {}
    for key, value in data.items():
        if key in _LOADER_KEYS or key not in current or not isinstance(current[key], _PLAIN_TYPES):
            continue
        if key.startswith("_") and key not in _PRIVATE_COUNTERS:
            continue
        if isinstance(value, dict) and _SERIALIZED in value:
            value = _constant_schedule(value)
            if value is None or not isinstance(current[key], (int, float)):
                continue
        if isinstance(current[key], tuple) and isinstance(value, list):
            value = tuple(value)
        safe[key] = value
    return safe


# ----------------------------------------------------------------------------- policy_kwargs

_CLASS_REPR = re.compile(r"<class '([A-Za-z_][\w.]*)'>")
_OBJECT_REPR = re.compile(r"<[^<>]*>")


def _allowed_classes() -> dict[str, type]:
    """The classes ``policy_kwargs`` may name: activations, SB3 extractors, optimizers."""
    import torch
    from stable_baselines3.common import torch_layers
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
    from torch.nn.modules import activation

    allowed: dict[str, type] = {
        f"{RMSpropTFLike.__module__}.{RMSpropTFLike.__qualname__}": RMSpropTFLike
    }
    sources = (
        (activation, torch.nn.Module, True),
        (torch_layers, torch_layers.BaseFeaturesExtractor, True),
        (torch.optim, torch.optim.Optimizer, False),
    )
    for module, base, defined_there in sources:
        for obj in vars(module).values():
            if not (isinstance(obj, type) and issubclass(obj, base)):
                continue
            if defined_there and obj.__module__ != module.__name__:
                continue
            allowed[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return allowed


def _resolve_kwarg(key: str, value: Any, allowed: dict[str, type], file: Path | None) -> Any:
    """A JSON policy_kwargs value, with whitelisted ``"<class '...'>"`` strings resolved."""
    if isinstance(value, dict):
        return {k: _resolve_kwarg(f"{key}.{k}", v, allowed, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_kwarg(key, v, allowed, file) for v in value]
    if not isinstance(value, str):
        return value
    match = _CLASS_REPR.fullmatch(value)
    if match and match.group(1) in allowed:
        return allowed[match.group(1)]
    if match or _OBJECT_REPR.search(value):
        where = f"{file}: " if file is not None else ""
        raise WnrlError(
            f"{where}policy_kwargs[{key!r}] = {_short(value)} cannot be loaded without "
            f"unpickling; {_TRUST_HINT}"
        )
    return value


def policy_kwargs_from_json(value: Any, file: Path | None = None) -> dict[str, Any]:
    """``policy_kwargs`` from SB3's JSON without unpickling.

    Plain JSON dicts are used as they are. A dict SB3 had to pickle (because of a class value)
    is read from its first-level items, where classes appear as ``"<class 'module.Name'>"``:
    those are resolved from a whitelist (``torch.nn.modules.activation``, SB3's feature
    extractors, ``torch.optim`` optimizers, ``RMSpropTFLike``); any other class or object
    representation raises :class:`~wnrl.errors.WnrlError`. ``device`` is dropped (as SB3 does).
    """
    where = f"{file}: " if file is not None else ""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WnrlError(f"{where}policy_kwargs is not a dict")
    if _SERIALIZED in value:
        if value.get(_TYPE) != "<class 'dict'>":
            raise WnrlError(
                f"{where}policy_kwargs of type {_short(value.get(_TYPE))} cannot be loaded "
                f"without unpickling; {_TRUST_HINT}"
            )
        value = {k: v for k, v in value.items() if k not in (_SERIALIZED, _TYPE)}
    items = {k: v for k, v in value.items() if k != "device"}
    net_arch = items.get("net_arch")
    if isinstance(net_arch, list) and net_arch and isinstance(net_arch[0], dict):
        items["net_arch"] = net_arch[0]  # SB3 < 1.8 format, converted as SB3's load does
    allowed = _allowed_classes()
    return {key: _resolve_kwarg(key, item, allowed, file) for key, item in items.items()}


# ----------------------------------------------------------------------------- spaces

_BOX = "<class 'gymnasium.spaces.box.Box'>"
_DISCRETE = "<class 'gymnasium.spaces.discrete.Discrete'>"
_MULTI_DISCRETE = "<class 'gymnasium.spaces.multi_discrete.MultiDiscrete'>"
_MULTI_BINARY = "<class 'gymnasium.spaces.multi_binary.MultiBinary'>"
#: numpy's default print options, under which SB3's JSON writes array bounds
_PRINT_OPTIONS: dict[str, Any] = {
    "precision": 8,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 75,
    "suppress": False,
    "nanstr": "nan",
    "infstr": "inf",
    "sign": "-",
    "floatmode": "maxprec",
    "formatter": None,
    "legacy": False,
}
_INTEGER = re.compile(r"[-+]?\d+")


def _dtype(desc: dict[str, Any], kinds: str) -> np.dtype:
    name = desc.get("dtype")
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in kinds:
        raise _CannotRebuild(f"unsupported dtype {_short(name)}")
    return dtype


def _shape(desc: dict[str, Any]) -> tuple[int, ...]:
    shape = desc.get("_shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _CannotRebuild(f"unreadable shape {_short(shape)}")
    return tuple(shape)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise _CannotRebuild(f"not an integer: {_short(value)}")


def _parse_token(token: str, dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        if token not in ("True", "False"):
            raise _CannotRebuild(f"not a bool: {_short(token)}")
        return token == "True"
    if dtype.kind in "iu":
        return _integer(token)
    try:
        return float(token)
    except ValueError as error:
        raise _CannotRebuild(f"not a number: {_short(token)}") from error


def _certainly_exact(token: str, value: np.floating) -> bool:
    """Whether a printed float ``token`` pins down ``value`` (its dtype) exactly.

    numpy prints at most ``precision`` digits (fractional digits in positional notation,
    mantissa digits in scientific), so the saved value lies within half a unit of the last
    printed place of ``token``; it is ``value`` for sure when the dtype has no other number
    that close, i.e. when the gap to ``value``'s neighbours exceeds one printed unit.
    """
    if not np.isfinite(value) or value == 0:
        return True
    precision = _PRINT_OPTIONS["precision"]
    exponent = int(token.lower().split("e")[1]) if "e" in token.lower() else 0
    resolution = 10.0 ** (exponent - precision)
    magnitude = abs(value)
    gap = min(np.spacing(magnitude), magnitude - np.nextafter(magnitude, magnitude.dtype.type(0)))
    return bool(gap > resolution)


def _parse_array(text: Any, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """An array from its ``str()`` in SB3's JSON, only when that text determines it exactly."""
    if not isinstance(text, str):
        raise _CannotRebuild(f"no printed values ({_short(text)})")
    if "..." in text:
        raise _CannotRebuild("numpy printed only a summary of the array")
    tokens = text.replace("[", " ").replace("]", " ").split()
    if len(tokens) != math.prod(shape):
        raise _CannotRebuild(f"{len(tokens)} printed values for shape {shape}")
    array = np.array([_parse_token(token, dtype) for token in tokens], dtype=dtype).reshape(shape)
    with np.printoptions(**_PRINT_OPTIONS):
        if str(array) != text:
            raise _CannotRebuild("the printed values do not read back identically")
    if dtype.kind == "f":
        for token, value in zip(tokens, array.reshape(-1), strict=True):
            if not _certainly_exact(token, value):
                raise _CannotRebuild(f"the printed value {token} is rounded")
    return array


def _parse_scalar(text: str, dtype: np.dtype) -> Any:
    """A numpy scalar from its ``str()`` (shortest round-trip repr, so exact when it reads back)."""
    value = dtype.type(_parse_token(text, dtype))
    if str(value) != text:
        raise _CannotRebuild(f"the printed value {text} does not read back identically")
    return value


def _bound(desc: dict[str, Any], key: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A Box bound: from ``<key>_repr`` (gymnasium's scalar for uniform bounds) or the array."""
    short = desc.get(f"{key}_repr")
    if isinstance(short, str) and "[" not in short:
        return np.full(shape, _parse_scalar(short.strip(), dtype), dtype=dtype)
    return _parse_array(desc.get(key), dtype, shape)


def _box(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype, shape = _dtype(desc, "iufb"), _shape(desc)
    low, high = _bound(desc, "low", dtype, shape), _bound(desc, "high", dtype, shape)
    return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)


def _discrete(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype = _dtype(desc, "iu")
    return spaces.Discrete(
        _integer(desc.get("n")), start=_integer(desc.get("start", 0)), dtype=dtype
    )


def _multi_discrete(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype, shape = _dtype(desc, "iu"), _shape(desc)
    nvec = _parse_array(desc.get("nvec"), dtype, shape)
    start = _parse_array(desc["start"], dtype, shape) if "start" in desc else None
    return spaces.MultiDiscrete(nvec, dtype=dtype, start=start)


def _multi_binary(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    n = desc.get("n")
    if isinstance(n, list):
        return spaces.MultiBinary([_integer(d) for d in n])
    return spaces.MultiBinary(_integer(n))


_SPACE_READERS = {
    _BOX: _box,
    _DISCRETE: _discrete,
    _MULTI_DISCRETE: _multi_discrete,
    _MULTI_BINARY: _multi_binary,
}


def space_from_json(desc: Any) -> spaces.Space:
    """A gymnasium space from the readable description SB3's JSON stores next to its pickle.

    Box (``dtype``, ``_shape``, bounds from ``low_repr`` / ``high_repr`` or the printed
    ``low`` / ``high``), Discrete (``n``, ``start``, ``dtype``), MultiDiscrete (``nvec``,
    ``start``) and MultiBinary (``n``). Raises :class:`WnrlError` when the description does not
    determine the space exactly (a Dict or other space, bounds numpy printed as a summary or
    rounded).
    """
    try:
        return _space_from_json(desc)
    except _CannotRebuild as error:
        raise WnrlError(f"cannot rebuild the space without unpickling: {error}") from error


def _space_from_json(desc: Any) -> spaces.Space:
    kind = desc.get(_TYPE) if isinstance(desc, dict) else None
    reader = _SPACE_READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise _CannotRebuild(f"unsupported space type {_short(kind)}")
    try:
        return reader(desc)
    except _CannotRebuild:
        raise
    except (ValueError, TypeError, AssertionError) as error:  # gymnasium refused the values
        raise _CannotRebuild(_one_line(error)) from error


def _class_name(space: Any) -> str:
    return f"<class '{type(space).__module__}.{type(space).__qualname__}'>"


def _check_described(desc: Any, space: spaces.Space, key: str, file: Path) -> None:
    """Compare an env space with what can be read of an unrebuildable description."""
    if not isinstance(desc, dict):
        return
    found = {
        "type": (desc.get(_TYPE), _class_name(space)),
        "shape": (desc.get("_shape"), list(space.shape) if space.shape is not None else None),
        "dtype": (desc.get("dtype"), str(space.dtype) if space.dtype is not None else None),
    }
    for what, (stored, actual) in found.items():
        if stored is not None and stored != actual:
            raise WnrlError(
                f"{file}: the env's {key} does not match the model's ({what} {actual} != {stored})"
            )


def _spaces(
    data: dict[str, Any], env: Any, file: Path, overrides: dict[str, Any]
) -> tuple[spaces.Space, spaces.Space]:
    """Observation and action spaces: from ``env`` (checked against the file) or the JSON."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key in ("observation_space", "action_space"):
        if key in overrides:
            parsed[key] = overrides.pop(key)
            continue
        try:
            parsed[key] = _space_from_json(data.get(key))
        except _CannotRebuild as error:
            problems[key] = str(error)
    if env is None:
        if problems:
            key, problem = next(iter(problems.items()))
            raise WnrlError(
                f"{file}: cannot rebuild the {key} without unpickling ({problem}); {_ENV_HINT}"
            )
        return parsed["observation_space"], parsed["action_space"]
    for key in ("observation_space", "action_space"):
        actual = getattr(env, key)
        if key not in parsed:
            _check_described(data.get(key), actual, key, file)
        elif parsed[key] != actual:
            raise WnrlError(
                f"{file}: the env's {key} {_short(actual)} does not match the model's "
                f"{_short(parsed[key])}"
            )
    return env.observation_space, env.action_space
