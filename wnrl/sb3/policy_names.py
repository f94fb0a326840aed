"""SB3's policy variants of each wnrl family (``WNDQNCnnPolicy``...) and their string names.

:func:`register_policy_names` adds ``"WNMlpPolicy"``, ``"WNCnnPolicy"`` and
``"WNMultiInputPolicy"`` to each algorithm's ``policy_aliases`` (``DQN("WNCnnPolicy", env)``).
"""

from __future__ import annotations

from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)

from wnrl.sb3.policies import (
    WNActorCriticPolicy,
    WNDQNPolicy,
    WNQRDQNPolicy,
    WNSACPolicy,
    WNTD3Policy,
)
from wnrl.sb3.policy_base import NormalizedPolicy

#: SB3's policy variants: string-name suffix -> the features extractor it fixes
_VARIANT_EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {
    "Mlp": FlattenExtractor,
    "Cnn": NatureCNN,
    "MultiInput": CombinedExtractor,
}


def _variant(base: type[NormalizedPolicy], variant: str) -> type[NormalizedPolicy]:
    """``WN<Family><Variant>Policy``: ``base`` with SB3's extractor of that variant."""
    family = base.__name__[len("WN") : -len("Policy")]
    name = f"WN{family}{variant}Policy"
    doc = (
        f"{base.__name__} with SB3's {variant}Policy features extractor "
        f'({_VARIANT_EXTRACTORS[variant].__name__}); string name ``"WN{variant}Policy"``.'
    )
    namespace = {
        "default_extractor": _VARIANT_EXTRACTORS[variant],
        # in the class's own dict: SB3 saves it with the model, weights-only loading reads it
        "_wnrl_family": base._wnrl_family,  # type: ignore[attr-defined]
        "_wnrl_variant": variant,
        "__doc__": doc,
        "__module__": __name__,
    }
    cls = type(name, (base,), namespace)
    cls.__qualname__ = name
    return cls


#: family base class -> {variant: class}; each class is also a module attribute (pickled models
#: refer to it by name)
POLICY_VARIANTS: dict[type[NormalizedPolicy], dict[str, type[NormalizedPolicy]]] = {}


for _base in (WNDQNPolicy, WNQRDQNPolicy, WNActorCriticPolicy, WNSACPolicy, WNTD3Policy):
    POLICY_VARIANTS[_base] = {}
    for _suffix in _VARIANT_EXTRACTORS:
        _cls = _variant(_base, _suffix)
        POLICY_VARIANTS[_base][_suffix] = _cls
        globals()[_cls.__name__] = _cls

__all__ = [
    "POLICY_VARIANTS",
    "POLICY_NAMES",
    "register_policy_names",
    *(cls.__name__ for variants in POLICY_VARIANTS.values() for cls in variants.values()),
]


_ALGORITHM_FAMILIES: dict[type[BaseAlgorithm], type[NormalizedPolicy]] = {
    DQN: WNDQNPolicy,
    QRDQN: WNQRDQNPolicy,
    PPO: WNActorCriticPolicy,
    A2C: WNActorCriticPolicy,
    SAC: WNSACPolicy,
    TD3: WNTD3Policy,
}


#: algorithm class -> {string name: policy class}, as :func:`register_policy_names` adds them
POLICY_NAMES: dict[type[BaseAlgorithm], dict[str, type[NormalizedPolicy]]] = {
    algorithm: {f"WN{suffix}Policy": cls for suffix, cls in POLICY_VARIANTS[family].items()}
    for algorithm, family in _ALGORITHM_FAMILIES.items()
}


def register_policy_names() -> None:
    """Add ``"WNMlpPolicy"``, ``"WNCnnPolicy"`` and ``"WNMultiInputPolicy"`` to the
    ``policy_aliases`` table of DQN, QR-DQN, PPO, A2C, SAC and TD3 (SB3's public table of
    string policy names, read when a policy is given by name, as in RL Zoo's hyperparameter
    files). Only names: SB3's own entries and behaviour are untouched, and a name some other
    package already registered for another class is left to it. ``import wnrl`` calls this.
    """
    for algorithm, names in POLICY_NAMES.items():
        aliases = algorithm.policy_aliases
        for name, cls in names.items():
            current = aliases.get(name)
            if current is None or getattr(current, "__module__", None) == __name__:
                aliases[name] = cls
