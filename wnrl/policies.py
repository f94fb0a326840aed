"""The policies' public path (``wnrl.policies``): the classes of :mod:`wnrl.sb3.policies`, their
SB3 variants and string names (:mod:`wnrl.sb3.policy_names`).

It re-exports every policy class and variant (``from wnrl.policies import WNDQNCnnPolicy``).
"""

from wnrl.nn.norms import NORMS
from wnrl.sb3.policies import (
    WN_POLICIES,
    WNActorCriticPolicy,
    WNDQNPolicy,
    WNQRDQNPolicy,
    WNSACPolicy,
    WNTD3Policy,
)
from wnrl.sb3.policy_base import DEFAULT_HEAD_SCALES, default_features_extractor
from wnrl.sb3.policy_names import *  # noqa: F403 (the variant classes, WNDQNCnnPolicy...)
from wnrl.sb3.policy_names import POLICY_NAMES, POLICY_VARIANTS, register_policy_names
from wnrl.sb3.policy_names import __all__ as _variant_names

__all__ = [
    "WNDQNPolicy",
    "WNQRDQNPolicy",
    "WNActorCriticPolicy",
    "WNSACPolicy",
    "WNTD3Policy",
    "WN_POLICIES",
    "POLICY_NAMES",
    "POLICY_VARIANTS",
    "register_policy_names",
    "DEFAULT_HEAD_SCALES",
    "default_features_extractor",
    "NORMS",
    *(name for name in _variant_names if name.startswith("WN")),
]
