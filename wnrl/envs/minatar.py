"""MinAtar (Young & Tian 2019, arXiv:1903.03176): the five 10x10 games, through the ``minatar``
package's own gymnasium registration.

``minatar.gym.register_envs()`` registers ``MinAtar/<Game>-v0`` (all 6 actions) and
``MinAtar/<Game>-v1`` (the game's minimal action set). wnrl's short names
(``minatar-breakout``, ``minatar-space-invaders``, ``minatar_seaquest``, ...) name the ``-v1``
ids. Observations are ``bool`` arrays of shape ``(10, 10, C)``, channel last, one channel per
kind of object; rewards are the game's own score (no clipping); sticky actions 0.1 (the
package's default, as in the MinAtar paper).

Importing ``minatar`` takes about 2 s (it imports matplotlib and seaborn for its display), so the
registration runs when a MinAtar id is first asked for, not when wnrl is imported. The names and
predicates here need neither gymnasium nor ``minatar`` (the analysis of committed runs uses them).
"""

from __future__ import annotations

import re

#: Game name as the minatar package spells it -> its gymnasium id (minimal action set).
MINATAR_GAMES: dict[str, str] = {
    "asterix": "MinAtar/Asterix-v1",
    "breakout": "MinAtar/Breakout-v1",
    "freeway": "MinAtar/Freeway-v1",
    "seaquest": "MinAtar/Seaquest-v1",
    "space_invaders": "MinAtar/SpaceInvaders-v1",
}

#: wnrl's short name of each game (``minatar-space-invaders``) -> its gymnasium id.
MINATAR_SHORT_NAMES: dict[str, str] = {
    f"minatar-{game.replace('_', '-')}": env_id for game, env_id in MINATAR_GAMES.items()
}

_PREFIX = "minatar"


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def names_minatar(env_id: str) -> bool:
    """Whether ``env_id`` is spelled as a MinAtar id or short name (``MinAtar/...``,
    ``minatar-...``, any casing): the ones that need :func:`register_minatar` first."""
    return _squash(env_id).startswith(_PREFIX)


def register_minatar() -> None:
    """Register the MinAtar ids with gymnasium (once; ``minatar.gym.register_envs``)."""
    import gymnasium as gym

    if MINATAR_GAMES["breakout"] in gym.registry:
        return
    from minatar.gym import register_envs  # ~2 s of imports: only when a MinAtar id is used

    register_envs()


def minatar_short_name_id(env_id: str) -> str | None:
    """The ``-v1`` id a short name means (``minatar-breakout``, ``MinAtar_SpaceInvaders``,
    ``minatar-space-invaders``), or None."""
    squashed = _squash(env_id)
    for short, full in MINATAR_SHORT_NAMES.items():
        if squashed == _squash(short):
            return full
    return None


def is_minatar_id(canonical_id: str) -> bool:
    """Whether a registered, canonical id is a MinAtar game."""
    return canonical_id.startswith("MinAtar/")
