"""wnrl: weight-normalized deep RL agents for Stable-Baselines3.

Salimans & Kingma (2016), "Weight Normalization: A Simple Reparameterization to Accelerate
Training of Deep Neural Networks", as a PyTorch layer library
(:mod:`wnrl.layers`, i.e. :mod:`wnrl.nn`, torch only)
and as SB3 policies. The SB3-facing names are imported lazily; ``import wnrl`` registers the
policies' string names (``"WNMlpPolicy"``, ``"WNCnnPolicy"``, ``"WNMultiInputPolicy"``) with
each SB3 algorithm when SB3 is installed (:func:`wnrl.sb3.policy_names.register_policy_names`), so
``DQN("WNCnnPolicy", env)`` and RL Zoo's ``--gym-packages wnrl`` work. The layer library
(:mod:`wnrl.layers`) imports torch alone and works where SB3 is not installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it (PEP 562 lazy attributes)
_LAZY = {
    "layers": "wnrl.layers",
    "WeightNormLinear": "wnrl.layers",
    "WeightNormConv2d": "wnrl.layers",
    "MeanOnlyBatchNorm": "wnrl.layers",
    "weight_norm": "wnrl.layers",
    "remove_weight_norm": "wnrl.layers",
    "data_dependent_init": "wnrl.layers",
    "policies": "wnrl.policies",
    "WNDQNPolicy": "wnrl.policies",
    "WNQRDQNPolicy": "wnrl.policies",
    "WNActorCriticPolicy": "wnrl.policies",
    "WNSACPolicy": "wnrl.policies",
    "WNTD3Policy": "wnrl.policies",
    "NORMS": "wnrl.nn.norms",
    "callbacks": "wnrl.callbacks",
    "DataDependentInit": "wnrl.callbacks",
    "WeightNormLogger": "wnrl.callbacks",
    "AtariReplayBuffer": "wnrl.buffers",
    "register_policy_names": "wnrl.policies",
    "load": "wnrl.sb3.model_files",
    "detect_algorithm": "wnrl.sb3.model_files",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'wnrl' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def _sb3_installed() -> bool:
    return all(
        importlib.util.find_spec(name) is not None for name in ("stable_baselines3", "sb3_contrib")
    )


if _sb3_installed():
    from wnrl.sb3.policy_names import register_policy_names as _register_policy_names

    _register_policy_names()
