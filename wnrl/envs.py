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
    it uses every core (about 2.4x the reference's env steps/s on 2 idle cores, see
    ``scripts/bench_envs.py``), while the reference steps its envs one after another.
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

import difflib
import re
import time
import warnings
from collections.abc import Sequence
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
from ale_py import roms
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common import atari_wrappers
from stable_baselines3.common.env_util import make_atari_env, make_vec_env
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecTransposeImage
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from wnrl.errors import ConfigError

try:  # ale-py >= 0.11.1 ships the C++ vector env with the arguments used here
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.vector import AutoresetMode
except ImportError:  # pragma: no cover - only with an old ale-py
    AtariVectorEnv = None  # type: ignore[assignment,misc]
    AutoresetMode = None  # type: ignore[assignment,misc]

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

gym.register_envs(ale_py)  # no-op besides making the registration explicit

#: Agent steps per emulator frame group (action repeat), Mnih et al. (2015).
FRAME_SKIP = 4
#: Frames stacked into one observation.
FRAME_STACK = 4
#: Side of the square grayscale frame.
SCREEN_SIZE = 84
#: Maximum number of no-op actions at the start of a game.
NOOP_MAX = 30
#: Default episode cap in agent steps: 108,000 emulator frames = 30 minutes of play.
MAX_EPISODE_STEPS = 27_000
#: Accepted values of ``backend``.
BACKENDS = ("auto", "ale", "sb3")

_ATARI_ENTRY_POINT = "ale_py.env:AtariEnv"
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
# ALE seeds are C ints; SB3's VecEnv.seed(None) draws seeds up to 2**32.
_SEED_MODULUS = 2**31


# --------------------------------------------------------------------------------------
# Environment ids
# --------------------------------------------------------------------------------------
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
    (``"breakout"``, ``"space_invaders"``, ``"SpaceInvaders"``) maps to ``"ALE/<Game>-v5"``.

    Raises:
        ValueError: ``env_id`` names no registered environment; the one-line message suggests
            the nearest known ids.
    """
    if not isinstance(env_id, str) or not env_id.strip():
        raise ConfigError(f"environment id must be a non-empty string, got {env_id!r}")
    key = env_id.strip()
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
        else "see gymnasium.registry for the known ids (Atari: 'ALE/<Game>-v5' or a game name)."
    )
    raise ConfigError(f"unknown environment id {env_id!r}; {hint}")


def _is_atari_spec(spec: EnvSpec) -> bool:
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
    return _is_atari_spec(spec)


def _atari_spec(env_id: str) -> EnvSpec:
    spec = gym.spec(canonical_env_id(env_id))
    if not _is_atari_spec(spec):
        raise ConfigError(f"{env_id!r} is not an Atari environment id")
    return spec


def _ale_vector_supports(spec: EnvSpec, noop_max: int) -> bool:
    """Whether ale-py's C++ vector env can run this game with these settings."""
    if AtariVectorEnv is None or noop_max < 1:  # its no-op sampler needs noop_max >= 1
        return False
    return roms.get_rom_path(spec.kwargs["game"]) is not None


# --------------------------------------------------------------------------------------
# The ale-py vector env as an SB3 VecEnv
# --------------------------------------------------------------------------------------
class AleVecEnv(VecEnv):
    """ale-py's C++ ``AtariVectorEnv`` behind SB3's ``VecEnv`` interface.

    The C++ side runs the games on threads and does the DQN preprocessing (grayscale, 84x84
    resize, frame skip 4 with max-pooling, 4-frame stack, no-op starts, FIRE reset). This class
    adds what SB3 code relies on, matching SB3's ``make_atari_env`` + ``VecFrameStack`` +
    ``VecTransposeImage`` pipeline:

    * SB3 auto-reset: the step that ends an episode returns the first observation of the next
      one and puts the last observation of the finished one in
      ``infos[i]["terminal_observation"]`` (the C++ env runs in gymnasium's same-step autoreset
      mode, whose ``final_obs`` is exactly that).
    * ``infos[i]["TimeLimit.truncated"]`` (True on truncation that is not also a termination).
    * ``infos[i]["episode"] = {"r", "l", "t"}`` at the end of every game, ``r`` the unclipped
      game score, as SB3's ``Monitor`` does. Rewards are clipped here, in Python, after the
      score is taken, so the C++ env always runs unclipped.
    * ``terminal_on_life_loss``: a lost life ends the *learning* episode (done, with a
      ``terminal_observation``) while the game goes on, as SB3's ``EpisodicLifeEnv``; the score
      is still reported per game. (ale-py's own ``episodic_life`` option resets the whole game
      on each lost life, so it is not used.)

    Observations are ``uint8`` arrays of shape ``(n_envs, 4, 84, 84)``, oldest frame first; at
    the start of an episode the 3 older frames are zeros, as with ``VecFrameStack``.

    Args:
        env_id: any id :func:`canonical_env_id` resolves to an Atari game.
        n_envs: number of games run in parallel.
        seed: seeds game ``i`` with ``seed + i`` at the next :meth:`reset` (see :meth:`seed`).
        clip_reward: return rewards clipped to {-1, 0, 1} (the score in ``infos`` never is).
        terminal_on_life_loss: end the learning episode on each lost life.
        max_episode_steps: truncate a game after this many agent steps.
        noop_max: at most this many no-op frames at the start of a game (>= 1).
        repeat_action_probability: sticky-action probability; ``None`` takes the id's own
            (0.25 for v5 ids, 0 for v4 ids).
        full_action_space: use the 18 actions instead of the game's minimal set.
        num_threads: C++ worker threads; 0 lets ale-py choose.
    """

    def __init__(
        self,
        env_id: str,
        n_envs: int = 1,
        *,
        seed: int | None = None,
        clip_reward: bool = True,
        terminal_on_life_loss: bool = False,
        max_episode_steps: int = MAX_EPISODE_STEPS,
        noop_max: int = NOOP_MAX,
        repeat_action_probability: float | None = None,
        full_action_space: bool = False,
        num_threads: int = 0,
    ) -> None:
        if AtariVectorEnv is None:  # pragma: no cover - only with an old ale-py
            raise ImportError("AleVecEnv needs ale-py >= 0.11.1 (ale_py.vector_env)")
        spec = _atari_spec(env_id)
        if not _ale_vector_supports(spec, noop_max):
            raise ConfigError(
                f"ale-py's vector env cannot run {spec.id!r} with noop_max={noop_max}; "
                "use backend='sb3'"
            )
        _check_positive("n_envs", n_envs)
        _check_positive("max_episode_steps", max_episode_steps)
        if repeat_action_probability is None:
            repeat_action_probability = float(spec.kwargs.get("repeat_action_probability", 0.0))
        self.env_id = spec.id
        self.game = str(spec.kwargs["game"])
        self.clip_reward = bool(clip_reward)
        self.terminal_on_life_loss = bool(terminal_on_life_loss)
        self.max_episode_steps = int(max_episode_steps)
        self.repeat_action_probability = float(repeat_action_probability)
        self._env = AtariVectorEnv(
            self.game,
            n_envs,
            num_threads=num_threads,
            # ale-py counts this in frames and truncates after ceil(frames / frameskip) steps
            max_num_frames_per_episode=self.max_episode_steps * FRAME_SKIP,
            repeat_action_probability=self.repeat_action_probability,
            full_action_space=bool(full_action_space or spec.kwargs.get("full_action_space")),
            autoreset_mode=AutoresetMode.SAME_STEP,
            img_height=SCREEN_SIZE,
            img_width=SCREEN_SIZE,
            grayscale=True,
            stack_num=FRAME_STACK,
            frameskip=FRAME_SKIP,
            maxpool=True,
            noop_max=noop_max,
            episodic_life=False,
            life_loss_info=False,
            reward_clipping=False,
            use_fire_reset=True,
        )
        self.render_mode = None  # read by VecEnv.__init__ through get_attr
        super().__init__(n_envs, self._env.single_observation_space, self._env.single_action_space)
        self._identity = np.arange(n_envs)
        self._t_start = time.time()
        self._scores = np.zeros(n_envs, dtype=np.float64)
        self._lives = np.zeros(n_envs, dtype=np.int64)
        self._episode_frames = np.zeros(n_envs, dtype=np.int64)
        self._emulated_wrappers: tuple[type[gym.Wrapper], ...] = (
            Monitor,
            atari_wrappers.AtariWrapper,
            atari_wrappers.NoopResetEnv,
            atari_wrappers.MaxAndSkipEnv,
            atari_wrappers.WarpFrame,
            *((atari_wrappers.FireResetEnv,) if "FIRE" in self.get_action_meanings() else ()),
            *((atari_wrappers.ClipRewardEnv,) if self.clip_reward else ()),
            *((atari_wrappers.EpisodicLifeEnv,) if self.terminal_on_life_loss else ()),
        )
        self._closed = False
        if seed is not None:
            self.seed(seed)

    # ---- VecEnv API ------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed game ``i`` with ``seed + i`` at the next :meth:`reset`; also seeds the
        action space (``action_space.sample()``). Later auto-resets continue each game's
        random stream, so the whole run is reproducible."""
        seeds = super().seed(seed)
        self.action_space.seed(seeds[0])
        return seeds

    def reset(self) -> VecEnvObs:
        """Start a new game in every env (seeded if :meth:`seed` was called since the last
        reset) and return the stacked first observations, shape ``(n_envs, 4, 84, 84)``."""
        if any(s is not None for s in self._seeds):
            seeds = np.array(
                [-1 if s is None else int(s) % _SEED_MODULUS for s in self._seeds],
                dtype=np.int64,
            )
            obs, info = self._env.reset(seed=seeds)
        else:
            obs, info = self._env.reset()
        self._reset_seeds()
        self._reset_options()
        order = self._order(info)
        if order is not None:
            obs, info = obs[order], {k: v[order] for k, v in info.items()}
        self._scores[:] = 0.0
        self._lives[:] = info["lives"]
        self._episode_frames[:] = info["episode_frame_number"]
        self.reset_infos = [
            {
                "lives": int(info["lives"][i]),
                "episode_frame_number": int(info["episode_frame_number"][i]),
                "frame_number": int(info["frame_number"][i]),
            }
            for i in range(self.num_envs)
        ]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Send one discrete action per env to the C++ workers (they start at once)."""
        actions = np.ascontiguousarray(np.asarray(actions).reshape(self.num_envs), np.int64)
        self._env.send(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Collect the step: ``(obs, rewards, dones, infos)`` with SB3 auto-reset semantics."""
        obs, rewards, terminated, truncated, info = self._env.recv()
        order = self._order(info)
        if order is not None:
            obs, rewards, terminated, truncated = (
                obs[order],
                rewards[order],
                terminated[order],
                truncated[order],
            )
            info = {k: v[order] for k, v in info.items()}
        raw = rewards.astype(np.float64)
        self._scores += raw
        lives = info["lives"].astype(np.int64)
        game_over = terminated | truncated
        # EpisodicLifeEnv's rule: a life lost (but lives left) in a game that goes on.
        life_lost = ~game_over & (lives > 0) & (lives < self._lives)
        terminal = terminated | life_lost if self.terminal_on_life_loss else terminated
        dones = terminal | truncated
        out_rewards = (np.sign(raw) if self.clip_reward else raw).astype(np.float32)
        final_obs = info.get("final_obs")
        now = round(time.time() - self._t_start, 6)

        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            env_info: dict[str, Any] = {
                "lives": int(lives[i]),
                "episode_frame_number": int(info["episode_frame_number"][i]),
                "frame_number": int(info["frame_number"][i]),
                "TimeLimit.truncated": bool(truncated[i] and not terminal[i]),
            }
            if dones[i]:
                # Game over: obs[i] already starts the next game, final_obs holds the last one.
                # Life lost: the game goes on from obs[i], which is also the terminal one.
                last = final_obs[i] if game_over[i] else obs[i]
                env_info["terminal_observation"] = np.array(last, dtype=np.uint8, copy=True)
            if game_over[i]:
                # Frames of the finished game, as SB3's Monitor (under the frame skip) counts
                # them; the last step may have ended early within its 4 frames.
                length = int(self._episode_frames[i]) + FRAME_SKIP
                env_info["episode"] = {"r": round(float(self._scores[i]), 6), "l": length, "t": now}
                self._scores[i] = 0.0
            infos.append(env_info)
        self._lives = lives
        self._episode_frames = info["episode_frame_number"].astype(np.int64)
        return obs, out_rewards, dones, infos

    def close(self) -> None:
        """Stop the C++ workers. Safe to call twice."""
        if not self._closed:
            self._env.close()
            self._closed = True

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute of this vector env, once per selected index (there are no Python
        sub-envs)."""
        value = getattr(self, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Set an attribute of this vector env (shared by all games)."""
        setattr(self, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        """Call a method of this vector env once, and return its result per selected index."""
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None
    ) -> list[bool]:
        """True for the SB3 wrappers whose behaviour this class reproduces (``Monitor``,
        ``AtariWrapper`` and its parts in use), so SB3's ``evaluate_policy`` reads the game
        scores from ``infos[i]["episode"]``."""
        wrapped = any(issubclass(w, wrapper_class) for w in self._emulated_wrappers)
        return [wrapped for _ in self._get_indices(indices)]

    def get_action_meanings(self) -> list[str]:
        """Names of the actions, in action-index order (e.g. ``["NOOP", "FIRE", ...]``)."""
        return [action.name.removeprefix("PLAYER_A_") for action in self._env.ale.get_action_set()]

    # ---- helpers ---------------------------------------------------------------------
    def _order(self, info: dict[str, np.ndarray]) -> np.ndarray | None:
        """Permutation that puts the C++ results in env-index order, or None if they are."""
        env_ids = info["env_id"]
        if np.array_equal(env_ids, self._identity):
            return None
        return np.argsort(env_ids)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown or a half-built object
            pass


# --------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------
def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


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
    _check_positive("n_envs", n_envs)
    canonical = canonical_env_id(env_id)
    spec = gym.spec(canonical)

    if not _is_atari_spec(spec):
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
    _check_positive("max_episode_steps", options["max_episode_steps"])
    if not isinstance(options["noop_max"], (int, np.integer)) or options["noop_max"] < 0:
        raise ConfigError(f"noop_max must be an integer >= 0, got {options['noop_max']!r}")

    ale_ok = _ale_vector_supports(spec, options["noop_max"])
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
