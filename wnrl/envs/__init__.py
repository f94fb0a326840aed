"""Environment factories returning SB3 ``VecEnv`` objects: Atari through ale-py's C++ vector env
(SB3's ``make_atari_env`` as the other backend) and any gymnasium id.

* :mod:`wnrl.envs.factory`: :func:`make_env`, the one entry point;
* :mod:`wnrl.envs.ale_vector`: :class:`AleVecEnv`;
* :mod:`wnrl.envs.ids`: canonical ids and suggestions for unknown ones.
"""

from importlib import import_module
from typing import Any

from wnrl.atari_settings import (
    BACKENDS,
    FRAME_SKIP,
    FRAME_STACK,
    MAX_EPISODE_STEPS,
    NOOP_MAX,
    SCREEN_SIZE,
)

#: where each of the package's names lives; loaded on first use, so that importing one of its
#: light submodules (``wnrl.envs.minatar``: names only) does not import gymnasium and ale-py
_LAZY = {
    "AleVecEnv": "wnrl.envs.ale_vector",
    "make_env": "wnrl.envs.factory",
    "canonical_env_id": "wnrl.envs.ids",
    "is_atari": "wnrl.envs.ids",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "FRAME_SKIP",
    "FRAME_STACK",
    "MAX_EPISODE_STEPS",
    "NOOP_MAX",
    "SCREEN_SIZE",
    "AleVecEnv",
    "canonical_env_id",
    "is_atari",
    "make_env",
]
