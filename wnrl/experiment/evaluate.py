"""Evaluate trained agents with the DQN test protocol: the score of whole games, epsilon 0.05.

The test score of the paper (sec. 5.4) is the one of Mnih et al. (2015): the agent plays whole
games with an epsilon-greedy policy, epsilon = 0.05 (:data:`EVAL_EPSILON`), and the score of a
game is its real, unclipped score. Here:

* :func:`evaluate_model` runs SB3's own ``evaluate_policy`` with an :class:`EpsilonGreedy`
  predictor around the model and returns an :class:`EvalResult`. With several envs,
  ``evaluate_policy`` gives every env a fixed number of episodes up front, so short episodes are
  not over-represented.
* :func:`evaluation_env` builds the env to evaluate on: for Atari, unclipped rewards and whole
  games (no end-of-life terminals), with the no-op starts and sticky actions of training.
  Scores always come from ``infos[i]["episode"]["r"]`` (SB3's ``Monitor``, which
  :class:`wnrl.envs.AleVecEnv` reproduces), so they are the game's own.
* :func:`format_result` prints one summary line.

What to evaluate is found by :mod:`wnrl.experiment.find_models`; videos are
:mod:`wnrl.experiment.video`'s.

Every problem a user can cause raises a :class:`~wnrl.errors.WnrlError` (or its subclass
:class:`~wnrl.errors.ConfigError`) whose message is one line naming the offending path or value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from wnrl.envs.factory import make_env
from wnrl.envs.ids import is_atari
from wnrl.errors import ConfigError, shortened

if TYPE_CHECKING:
    pass


#: Exploration rate of the DQN test protocol (Mnih et al. 2015; paper sec. 5.4).
EVAL_EPSILON = 0.05


@dataclass
class EvalResult:
    """Scores of finished episodes.

    Attributes:
        scores: the real (unclipped) game score of every finished episode.
        lengths: episode lengths as the env's ``Monitor`` counts them: emulator frames for
            Atari (agent steps x 4), agent steps otherwise.
    """

    scores: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scores = [float(s) for s in self.scores]
        self.lengths = [int(n) for n in self.lengths]

    @property
    def n(self) -> int:
        """Number of episodes."""
        return len(self.scores)

    @property
    def mean(self) -> float:
        """Mean score (NaN without episodes)."""
        return float(np.mean(self.scores)) if self.scores else math.nan

    @property
    def std(self) -> float:
        """Standard deviation of the scores (population, as SB3 reports it; NaN if empty)."""
        return float(np.std(self.scores)) if self.scores else math.nan

    @property
    def max(self) -> float:
        """Best score (NaN without episodes); the paper's table reports the max over epochs of
        the mean test score, not this."""
        return float(np.max(self.scores)) if self.scores else math.nan

    @property
    def min(self) -> float:
        """Worst score (NaN without episodes)."""
        return float(np.min(self.scores)) if self.scores else math.nan

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML data: the summary statistics and the per-episode lists."""
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "max": self.max,
            "min": self.min,
            "scores": list(self.scores),
            "lengths": list(self.lengths),
        }


def _number(value: float) -> str:
    """``20`` for whole numbers, ``20.5`` otherwise."""
    if math.isfinite(value) and value == round(value):
        return str(int(round(value)))
    return f"{value:.1f}"


def format_result(result: EvalResult, label: str) -> str:
    """One line: ``"<label>: mean 12.3 +- 4.5, max 20, min 3 over 30 episodes"``."""
    if result.n == 0:
        return f"{label}: no finished episodes"
    episodes = "episode" if result.n == 1 else "episodes"
    return (
        f"{label}: mean {result.mean:.1f} +- {result.std:.1f}, max {_number(result.max)}, "
        f"min {_number(result.min)} over {result.n} {episodes}"
    )


class EpsilonGreedy:
    """An SB3 ``PolicyPredictor``: the model's greedy action, or with probability ``epsilon`` a
    uniformly random one, drawn independently for every env at every step (Mnih et al. 2015).

    The greedy action is ``model.predict(obs, deterministic=True)`` (for DQN the argmax of the
    Q-values, never DQN's own training exploration). ``epsilon=0`` returns exactly the model's
    deterministic actions and draws no random numbers.

    Args:
        model: anything with SB3's ``predict`` signature (an algorithm or a policy).
        action_space: the env's ``Discrete`` action space (random actions come from it); any
            space when ``epsilon`` is 0.
        epsilon: exploration rate in [0, 1].
        rng: the generator for the coin flips and the random actions.
    """

    def __init__(
        self,
        model: Any,
        action_space: spaces.Space,
        epsilon: float,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.model = model
        self.action_space = action_space
        self.epsilon = _check_epsilon(epsilon, action_space)
        self.rng = rng if rng is not None else np.random.default_rng()

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for a batch of observations (``deterministic`` is ignored: the greedy part
        is always deterministic, the exploration always on)."""
        actions, state = self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=True
        )
        if self.epsilon == 0.0:
            return actions, state
        actions = np.asarray(actions)
        flat = actions.reshape(-1)
        explore = self.rng.random(flat.size) < self.epsilon
        space = self.action_space
        assert isinstance(space, spaces.Discrete)
        random = self.rng.integers(int(space.n), size=flat.size) + int(space.start)
        mixed = np.where(explore, random, flat).astype(actions.dtype, copy=False)
        return mixed.reshape(actions.shape), state


def _check_epsilon(epsilon: Any, action_space: spaces.Space) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)):
        raise ConfigError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
    value = float(epsilon)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ConfigError(f"epsilon must be in [0, 1], got {epsilon!r}")
    if value > 0.0 and not isinstance(action_space, spaces.Discrete):
        raise ConfigError(
            f"epsilon-greedy evaluation needs a discrete action space, not "
            f"{type(action_space).__name__}{action_space.shape}; use epsilon 0"
        )
    return value


def _resolve_epsilon(epsilon: float | None, action_space: spaces.Space) -> float:
    """``None``: the protocol's 0.05 for discrete actions, 0 (no exploration) otherwise."""
    if epsilon is None:
        return EVAL_EPSILON if isinstance(action_space, spaces.Discrete) else 0.0
    return _check_epsilon(epsilon, action_space)


def check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0 or None, got {seed!r}")
    return int(seed)


def _check_spaces(model: Any, env: VecEnv) -> None:
    """One-line ConfigError when the model was trained on other spaces than ``env`` has."""
    for key in ("observation_space", "action_space"):
        expected = getattr(model, key, None)
        actual = getattr(env, key)
        if isinstance(expected, spaces.Space) and expected != actual:
            raise ConfigError(
                f"the model's {key.replace('_', ' ')} {shortened(expected)} does not match the "
                f"env's {shortened(actual)}: evaluate on the environment it was trained on"
            )


def evaluate_model(
    model: Any,
    env: VecEnv | gym.Env,
    n_episodes: int = 30,
    epsilon: float | None = None,
    seed: int | None = None,
) -> EvalResult:
    """The test score of the DQN protocol (Mnih et al. 2015; paper sec. 5.4).

    Plays ``n_episodes`` whole episodes with :class:`EpsilonGreedy` through SB3's
    ``evaluate_policy`` (``return_episode_rewards=True``), which divides the episodes among the
    envs in fixed shares so that the mean is not biased towards short episodes, and reads the
    scores from the ``Monitor`` data in ``infos`` (unclipped game scores for wnrl's Atari envs;
    build the env with :func:`evaluation_env`).

    Args:
        model: an SB3 model or policy (anything with ``predict``).
        env: the env to play in, usually from :func:`evaluation_env`; a plain ``gym.Env`` is
            wrapped in a ``DummyVecEnv``.
        n_episodes: number of finished episodes to score.
        epsilon: exploration rate. ``None``: 0.05 (:data:`EVAL_EPSILON`) for a discrete action
            space, 0 otherwise. A value > 0 with a non-discrete action space raises
            :class:`~wnrl.errors.ConfigError` (there is no uniform "random action" to mix in).
        seed: seeds the exploration and, when given, the env (env ``i`` with ``seed + i`` at
            the reset that starts the evaluation), so a call is reproducible. ``None``: fresh
            randomness, and the env keeps its own seeding.

    Raises:
        ConfigError: bad ``n_episodes``/``epsilon``/``seed``, or a model whose observation or
            action space differs from the env's.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)):
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    if n_episodes < 1:
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    seed = check_seed(seed)
    if not isinstance(env, VecEnv):
        single = env
        env = DummyVecEnv([lambda: single])
    eps = _resolve_epsilon(epsilon, env.action_space)
    _check_spaces(model, env)
    if seed is not None:
        env.seed(seed)
    predictor = EpsilonGreedy(model, env.action_space, eps, np.random.default_rng(seed))
    scores, lengths = evaluate_policy(
        predictor,  # type: ignore[arg-type]
        env,
        n_eval_episodes=int(n_episodes),
        deterministic=True,
        return_episode_rewards=True,
        warn=True,
    )
    return EvalResult(list(scores), list(lengths))  # type: ignore[arg-type]


def evaluation_env(
    env_id: str,
    n_envs: int = 1,
    seed: int | None = None,
    backend: str = "auto",
    **env_kwargs: Any,
) -> VecEnv:
    """The env to measure test scores on: :func:`wnrl.envs.make_env` with, for Atari ids,
    ``clip_reward=False`` and ``terminal_on_life_loss=False`` (whole games, real scores; these
    two override what ``env_kwargs`` says, so a run's training ``env_kwargs`` can be passed
    as they are). No-op starts, sticky actions and the episode cap keep their (training)
    values. Other ids get ``make_env`` unchanged.

    ``n_envs > 1`` is faster and unbiased with :func:`evaluate_model`; more envs than episodes
    waste steps.
    """
    kwargs = dict(env_kwargs)
    if is_atari(env_id):
        kwargs["clip_reward"] = False
        kwargs["terminal_on_life_loss"] = False
    return make_env(env_id, n_envs=n_envs, seed=seed, backend=backend, **kwargs)
