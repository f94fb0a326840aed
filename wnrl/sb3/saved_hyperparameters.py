"""The hyperparameters and ``policy_kwargs`` of a model file that can be used without unpickling.

Hyperparameters that SB3 stored only in pickled form (``train_freq``, ``action_noise``,
non-constant schedules, replay buffer classes...) keep the algorithm's defaults; ``policy_kwargs``
values that name classes are resolved through a whitelist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnrl.errors import WnrlError, shortened
from wnrl.sb3.saved_data import SERIALIZED, TRUST_HINT, TYPE

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm


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
    if value.get(TYPE) != _FLOAT_SCHEDULE or not isinstance(value.get("value_schedule"), str):
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
        if isinstance(value, dict) and SERIALIZED in value:
            value = _constant_schedule(value)
            if value is None or not isinstance(current[key], (int, float)):
                continue
        if isinstance(current[key], tuple) and isinstance(value, list):
            value = tuple(value)
        safe[key] = value
    return safe


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
            f"{where}policy_kwargs[{key!r}] = {shortened(value)} cannot be loaded without "
            f"unpickling; {TRUST_HINT}"
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
    if SERIALIZED in value:
        if value.get(TYPE) != "<class 'dict'>":
            raise WnrlError(
                f"{where}policy_kwargs of type {shortened(value.get(TYPE))} cannot be loaded "
                f"without unpickling; {TRUST_HINT}"
            )
        value = {k: v for k, v in value.items() if k not in (SERIALIZED, TYPE)}
    items = {k: v for k, v in value.items() if k != "device"}
    net_arch = items.get("net_arch")
    if isinstance(net_arch, list) and net_arch and isinstance(net_arch[0], dict):
        items["net_arch"] = net_arch[0]  # SB3 < 1.8 format, converted as SB3's load does
    allowed = _allowed_classes()
    return {key: _resolve_kwarg(key, item, allowed, file) for key, item in items.items()}
