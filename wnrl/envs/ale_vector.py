"""ale-py's C++ ``AtariVectorEnv`` seen as an SB3 ``VecEnv`` (threads, the preprocessing in C++).

It gives the observations, spaces and ``infos`` of SB3's ``make_atari_env`` + ``VecFrameStack``
pipeline (the ``"sb3"`` backend of :func:`wnrl.envs.make_env`), so a model trained with one
evaluates with the other; ``scripts/bench_envs.py`` measures the two side by side.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from ale_py import roms
from gymnasium.envs.registration import EnvSpec
from stable_baselines3.common import atari_wrappers
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from wnrl.atari_settings import (
    FRAME_SKIP,
    FRAME_STACK,
    MAX_EPISODE_STEPS,
    NOOP_MAX,
    SCREEN_SIZE,
)
from wnrl.envs.ids import atari_spec
from wnrl.errors import ConfigError

try:  # ale-py >= 0.11.1 ships the C++ vector env with the arguments used here
    from ale_py.vector_env import AtariVectorEnv
    from gymnasium.vector import AutoresetMode
except ImportError:  # pragma: no cover - only with an old ale-py
    AtariVectorEnv = None  # type: ignore[assignment,misc]
    AutoresetMode = None  # type: ignore[assignment,misc]


# ALE seeds are C ints; SB3's VecEnv.seed(None) draws seeds up to 2**32.
_SEED_MODULUS = 2**31


def check_positive(name: str, value: int) -> None:
    """A one-line ConfigError unless ``value`` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")


def ale_vector_supports(spec: EnvSpec, noop_max: int) -> bool:
    """Whether ale-py's C++ vector env can run this game with these settings."""
    if AtariVectorEnv is None or noop_max < 1:  # its no-op sampler needs noop_max >= 1
        return False
    return roms.get_rom_path(spec.kwargs["game"]) is not None


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
        spec = atari_spec(env_id)
        if not ale_vector_supports(spec, noop_max):
            raise ConfigError(
                f"ale-py's vector env cannot run {spec.id!r} with noop_max={noop_max}; "
                "use backend='sb3'"
            )
        check_positive("n_envs", n_envs)
        check_positive("max_episode_steps", max_episode_steps)
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
