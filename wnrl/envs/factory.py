"""Environment factories returning Stable-Baselines3 ``VecEnv`` objects.

One entry point, :func:`make_env`, builds every environment wnrl trains or evaluates on:

* **Atari** ids (``ALE/<Game>-v5``, ``<Game>NoFrameskip-v4``, any other registered ALE id, or a
  bare game name such as ``breakout``, ``space_invaders`` or ``SpaceInvaders``, which maps to
  ``ALE/<Game>-v5``) get the standard DQN preprocessing of Mnih et al. (2015), as in SB3's
  ``AtariWrapper``: 84x84 grayscale frames, frame skip 4 with a max over the last 2 frames,
  4 stacked frames, up to 30 no-op starts, FIRE on reset for games that need it, rewards
  clipped to {-1, 0, 1} for training (``clip_reward=False`` for evaluation), optional
  end-of-life terminals (``terminal_on_life_loss``, off by default) and episodes truncated
  after 27,000 agent steps (108,000 emulator frames). Sticky actions follow the id's
  convention: ``repeat_action_probability`` 0.25 for v5 (and v0) ids, 0 for v4 ids.

  Two backends give the same observations, ``uint8`` arrays of shape ``(n_envs, 4, 84, 84)``
  (frames first, oldest frame first, newest at index 3), the same spaces and the same
  ``infos`` conventions, so a model trained with one evaluates with the other:

  - ``"ale"`` (the default where ale-py's vector env supports the game): :class:`AleVecEnv`,
    ale-py's C++ ``AtariVectorEnv`` (threads, preprocessing in C++) seen as an SB3 ``VecEnv``;
    it uses every core (``scripts/bench_envs.py`` measures it against the reference; the
    README has its figures), while the reference steps its envs one after another.
  - ``"sb3"``: the reference, SB3's ``make_atari_env`` (``AtariWrapper`` + ``Monitor`` in a
    ``DummyVecEnv``) + ``VecFrameStack(n_stack=4)`` + ``VecTransposeImage``.

  Every finished game reports its real, unclipped score as ``infos[i]["episode"] =
  {"r": score, "l": frames, "t": seconds}`` exactly like SB3's ``Monitor`` under
  ``AtariWrapper`` does (``l`` counts emulator frames, as that Monitor sees them), so
  ``rollout/ep_rew_mean`` shows game scores even though the agent learns from clipped
  rewards. With ``terminal_on_life_loss=True`` an "episode" for the score is still the whole
  game (all lives).

* Any other gymnasium id goes through SB3's ``make_vec_env`` (a ``Monitor`` around each env,
  so ``infos[i]["episode"]`` works there too); extra keyword arguments go to ``gym.make``.

Unknown ids and bad options raise a one-line :class:`wnrl.errors.ConfigError` (a ``ValueError``)
naming the nearest known ids or the valid choices.

This module imports only :mod:`wnrl.errors` from wnrl; ``import ale_py`` registers the ALE ids.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecTransposeImage

from wnrl.atari_settings import (
    BACKENDS,
    FRAME_SKIP,
    FRAME_STACK,
    MAX_EPISODE_STEPS,
    NOOP_MAX,
    SCREEN_SIZE,
)
from wnrl.envs.ale_vector import AleVecEnv, ale_vector_supports, check_positive
from wnrl.envs.ids import canonical_env_id, is_atari_spec
from wnrl.errors import ConfigError

_ATARI_KWARGS = frozenset(
    {
        "clip_reward",
        "terminal_on_life_loss",
        "max_episode_steps",
        "noop_max",
        "repeat_action_probability",
        "full_action_space",
        "num_threads",
    }
)


def _make_sb3_atari(
    spec: EnvSpec,
    n_envs: int,
    seed: int | None,
    *,
    clip_reward: bool,
    terminal_on_life_loss: bool,
    max_episode_steps: int,
    noop_max: int,
    repeat_action_probability: float | None,
    full_action_space: bool,
) -> VecEnv:
    """SB3's reference pipeline, channel-first: make_atari_env + VecFrameStack + transpose."""
    env_kwargs: dict[str, Any] = {
        # AtariWrapper does the frame skip; ALE's own must be off (also for v5 ids).
        "frameskip": 1,
        # ALE counts episode frames (reset no-ops included) against this cap.
        "max_num_frames_per_episode": max_episode_steps * FRAME_SKIP,
    }
    if repeat_action_probability is not None:
        env_kwargs["repeat_action_probability"] = repeat_action_probability
    if full_action_space:
        env_kwargs["full_action_space"] = True
    venv = make_atari_env(
        spec.id,
        n_envs=n_envs,
        seed=seed,
        env_kwargs=env_kwargs,
        wrapper_kwargs={
            "noop_max": noop_max,
            "frame_skip": FRAME_SKIP,
            "screen_size": SCREEN_SIZE,
            "terminal_on_life_loss": terminal_on_life_loss,
            "clip_reward": clip_reward,
        },
    )
    return VecTransposeImage(VecFrameStack(venv, n_stack=FRAME_STACK))


def _describe_spaces(venv: VecEnv) -> VecEnv:
    """Fill gymnasium's lazily computed ``Box.low_repr`` / ``high_repr`` (set by ``repr()``).

    SB3 writes those strings into a saved model's JSON; with them a uniform image space is
    described exactly ("0", "255") instead of by numpy's truncated array print, so
    ``wnrl.load(path, weights_only=True)`` can rebuild it without the env.
    """
    repr(venv.observation_space)
    repr(venv.action_space)
    return venv


def make_env(
    env_id: str,
    n_envs: int = 1,
    seed: int | None = None,
    backend: str = "auto",
    **kwargs: Any,
) -> VecEnv:
    """Build a vectorized environment for ``env_id``.

    Args:
        env_id: a gymnasium id, or an Atari game name (see :func:`canonical_env_id`).
        n_envs: number of environments stepped together.
        seed: env ``i`` is seeded with ``seed + i`` at the first reset (SB3 convention), and
            the action space with ``seed``; ``None`` for random seeds.
        backend: Atari only: ``"ale"`` (ale-py's C++ vector env, :class:`AleVecEnv`),
            ``"sb3"`` (SB3's ``make_atari_env`` pipeline) or ``"auto"`` (``"ale"`` when it
            supports the game, else ``"sb3"``). Non-Atari ids accept ``"auto"``/``"sb3"``.
        **kwargs: Atari ids accept only these (defaults in brackets):
            ``clip_reward`` [True] rewards clipped to {-1, 0, 1} (the score in
            ``infos[i]["episode"]["r"]`` is never clipped);
            ``terminal_on_life_loss`` [False] a lost life ends the learning episode;
            ``max_episode_steps`` [27000] agent steps before truncation (108k frames);
            ``noop_max`` [30] no-op starts; ``repeat_action_probability`` [the id's]
            sticky actions; ``full_action_space`` [False]; ``num_threads`` [0, "ale" only].
            Other ids pass them to ``gym.make`` (e.g. ``max_episode_steps=50``).

    Returns:
        An SB3 ``VecEnv``. Atari observations are ``uint8`` of shape ``(n_envs, 4, 84, 84)``
        with either backend, and both report game scores in ``infos[i]["episode"]``.

    Raises:
        ValueError: unknown id (the message names the nearest known ids), unknown backend,
            a backend that cannot run this id, or bad argument values.
        TypeError: an unknown keyword argument for an Atari id.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    check_positive("n_envs", n_envs)
    canonical = canonical_env_id(env_id)
    spec = gym.spec(canonical)

    if not is_atari_spec(spec):
        if backend == "ale":
            raise ConfigError(f"backend 'ale' runs Atari games only, not {canonical!r}")
        return _describe_spaces(
            make_vec_env(canonical, n_envs=n_envs, seed=seed, env_kwargs=kwargs)
        )

    unknown = sorted(set(kwargs) - _ATARI_KWARGS)
    if unknown:
        raise ConfigError(
            f"unknown argument(s) {', '.join(unknown)} for Atari env {canonical!r}; "
            f"accepted: {', '.join(sorted(_ATARI_KWARGS))}"
        )
    options: dict[str, Any] = {
        "clip_reward": bool(kwargs.get("clip_reward", True)),
        "terminal_on_life_loss": bool(kwargs.get("terminal_on_life_loss", False)),
        "max_episode_steps": kwargs.get("max_episode_steps", MAX_EPISODE_STEPS),
        "noop_max": kwargs.get("noop_max", NOOP_MAX),
        "repeat_action_probability": kwargs.get("repeat_action_probability"),
        "full_action_space": bool(kwargs.get("full_action_space", False)),
    }
    check_positive("max_episode_steps", options["max_episode_steps"])
    if not isinstance(options["noop_max"], (int, np.integer)) or options["noop_max"] < 0:
        raise ConfigError(f"noop_max must be an integer >= 0, got {options['noop_max']!r}")

    ale_ok = ale_vector_supports(spec, options["noop_max"])
    if backend == "ale" and not ale_ok:
        raise ConfigError(
            f"backend 'ale' cannot run {canonical!r} with noop_max={options['noop_max']} "
            "(ale-py's vector env needs noop_max >= 1); use backend='sb3'"
        )
    if backend == "ale" or (backend == "auto" and ale_ok):
        return _describe_spaces(
            AleVecEnv(
                canonical, n_envs, seed=seed, num_threads=kwargs.get("num_threads", 0), **options
            )
        )
    if "num_threads" in kwargs:
        warnings.warn("num_threads only applies to backend 'ale'; ignored", stacklevel=2)
    return _describe_spaces(_make_sb3_atari(spec, n_envs, seed, **options))
