"""Environment factories returning SB3 ``VecEnv`` objects: Atari through ale-py's C++ vector env
(SB3's ``make_atari_env`` as the other backend) and any gymnasium id.

* :mod:`wnrl.envs.factory`: :func:`make_env`, the one entry point;
* :mod:`wnrl.envs.ale_vector`: :class:`AleVecEnv`;
* :mod:`wnrl.envs.ids`: canonical ids and suggestions for unknown ones.
"""

from wnrl.atari_settings import (
    BACKENDS,
    FRAME_SKIP,
    FRAME_STACK,
    MAX_EPISODE_STEPS,
    NOOP_MAX,
    SCREEN_SIZE,
)
from wnrl.envs.ale_vector import AleVecEnv
from wnrl.envs.factory import make_env
from wnrl.envs.ids import canonical_env_id, is_atari

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
