"""Environment ids: Atari ids and bare game names to their canonical id, with suggestions for typos.

``import ale_py`` registers the ALE ids with gymnasium; a bare game name (``breakout``,
``space_invaders``, ``SpaceInvaders``) maps to ``ALE/<Game>-v5``; a MinAtar short name
(``minatar-breakout``) to ``MinAtar/<Game>-v1`` (:mod:`wnrl.envs.minatar`). Unknown ids raise a
one-line :class:`~wnrl.errors.ConfigError` naming the nearest known ids.
"""

from __future__ import annotations

import difflib
import re

import ale_py
import gymnasium as gym
from ale_py import roms
from gymnasium.envs.registration import EnvSpec

from wnrl.envs.minatar import (
    MINATAR_SHORT_NAMES,
    is_minatar_id,
    minatar_short_name_id,
    names_minatar,
    register_minatar,
)
from wnrl.errors import ConfigError

gym.register_envs(ale_py)  # no-op besides making the registration explicit


_ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"


def _squash(name: str) -> str:
    """Lower-case ``name`` and drop everything but letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _bare_game_ids() -> dict[str, str]:
    """Squashed game name (``spaceinvaders``) -> ``ALE/<Game>-v5`` for every registered game."""
    games: dict[str, str] = {}
    for rom_id in roms.get_all_rom_ids():
        env_id = f"ALE/{rom_id.title().replace('_', '')}-v5"
        if env_id in gym.registry:
            games[_squash(rom_id)] = env_id
    return games


def _suggestions(env_id: str, n: int = 3) -> list[str]:
    """The registered ids (ALE ones included) closest to ``env_id``, best first."""
    candidates: dict[str, str] = {key.lower(): key for key in gym.registry}
    for squashed, full_id in _bare_game_ids().items():
        candidates.setdefault(squashed, full_id)
    for short, full_id in MINATAR_SHORT_NAMES.items():
        candidates.setdefault(short, full_id)
    matches = difflib.get_close_matches(env_id.strip().lower(), candidates, n=3 * n, cutoff=0.6)
    found: list[str] = []
    for match in matches:
        if candidates[match] not in found:
            found.append(candidates[match])
    return found[:n]


def canonical_env_id(env_id: str) -> str:
    """Return the registered gymnasium id that ``env_id`` names.

    Registered ids are returned unchanged (``"ALE/Breakout-v5"``,
    ``"BreakoutNoFrameskip-v4"``, ``"CartPole-v1"``); a case-insensitive exact match is
    accepted (``"cartpole-v1"``); a bare Atari game name in any casing or separator style
    (``"breakout"``, ``"space_invaders"``, ``"SpaceInvaders"``) maps to ``"ALE/<Game>-v5"``;
    a MinAtar short name (``"minatar-breakout"``, ``"minatar-space-invaders"``) to
    ``"MinAtar/<Game>-v1"`` (MinAtar ids are registered on first use).

    Raises:
        ValueError: ``env_id`` names no registered environment; the one-line message suggests
            the nearest known ids.
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise ConfigError(f"environment id must be a non-empty string, got {env_id!r}")
    key = env_id.strip()
    if names_minatar(key):
        register_minatar()
        short = minatar_short_name_id(key)
        if short is not None:
            return short
    if key in gym.registry:
        return key
    folded = {registered.lower(): registered for registered in gym.registry}
    if key.lower() in folded:
        return folded[key.lower()]
    if "/" not in key and not re.search(r"-v\d+$", key):
        game_id = _bare_game_ids().get(_squash(key))
        if game_id is not None:
            return game_id
    near = _suggestions(key)
    hint = (
        "did you mean " + ", ".join(repr(s) for s in near) + "?"
        if near
        else "see gymnasium.registry for the known ids (Atari: 'ALE/<Game>-v5' or a game name; "
        "MinAtar: 'minatar-<game>')."
    )
    raise ConfigError(f"unknown environment id {env_id!r}; {hint}")


def is_atari_spec(spec: EnvSpec) -> bool:
    """True for ALE image environments (the ones that get the DQN preprocessing)."""
    entry = spec.entry_point
    is_ale = entry == _ATARI_ENTRY_POINT or (
        isinstance(entry, type) and issubclass(entry, ale_py.env.AtariEnv)
    )
    return is_ale and spec.kwargs.get("obs_type", "rgb") != "ram"


def is_atari(env_id: str) -> bool:
    """Whether ``env_id`` is an Atari game that :func:`make_env` preprocesses as such.

    Accepts everything :func:`canonical_env_id` accepts; returns ``False`` for ids that name no
    registered environment (``make_env`` raises for those).
    """
    try:
        spec = gym.spec(canonical_env_id(env_id))
    except ValueError:
        return False
    return is_atari_spec(spec)


def atari_spec(env_id: str) -> EnvSpec:
    spec = gym.spec(canonical_env_id(env_id))
    if not is_atari_spec(spec):
        raise ConfigError(f"{env_id!r} is not an Atari environment id")
    return spec


def is_minatar(env_id: str) -> bool:
    """Whether ``env_id`` (anything :func:`canonical_env_id` accepts) is a MinAtar game; False
    for ids that name no registered environment."""
    try:
        return is_minatar_id(canonical_env_id(env_id))
    except ValueError:
        return False
