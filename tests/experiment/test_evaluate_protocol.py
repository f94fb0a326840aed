"""wnrl.experiment.evaluate: the DQN test protocol (epsilon-greedy 0.05, whole games, exactly
the episodes asked for, unclipped game scores), against SB3's evaluate_policy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from evaluation_models import ATARI, CARTPOLE, assert_one_line
from stable_baselines3 import TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from wnrl.envs import AleVecEnv, make_env
from wnrl.errors import ConfigError
from wnrl.experiment.evaluate import (
    EVAL_EPSILON,
    EpsilonGreedy,
    EvalResult,
    evaluate_model,
    evaluation_env,
    format_result,
)
from wnrl.policies import WNTD3Policy


# --------------------------------------------------------------------------------------
# EvalResult and format_result
# --------------------------------------------------------------------------------------
def test_eval_result_statistics() -> None:
    result = EvalResult([np.float32(3.0), 5.0, 10.0, 2.0], [np.int64(100), 120, 300, 80])
    assert result.n == 4
    assert result.mean == pytest.approx(5.0)
    assert result.std == pytest.approx(np.std([3.0, 5.0, 10.0, 2.0]))
    assert (result.max, result.min) == (10.0, 2.0)
    data = result.as_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert data["scores"] == [3.0, 5.0, 10.0, 2.0] and data["lengths"] == [100, 120, 300, 80]
    assert {k: data[k] for k in ("n", "mean", "max", "min")} == {
        "n": 4,
        "mean": 5.0,
        "max": 10.0,
        "min": 2.0,
    }
    empty = EvalResult([], [])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.max)


def test_format_result() -> None:
    result = EvalResult([20.0, 3.0, 14.0], [1, 1, 1])
    std = np.std([20.0, 3.0, 14.0])
    assert format_result(result, "dqn-wn") == (
        f"dqn-wn: mean 12.3 +- {std:.1f}, max 20, min 3 over 3 episodes"
    )
    assert format_result(EvalResult([20.5], [1]), "x") == (
        "x: mean 20.5 +- 0.0, max 20.5, min 20.5 over 1 episode"
    )
    assert format_result(EvalResult([-1448.0, 7375.0], [1, 1]), "y").endswith(
        "max 7375, min -1448 over 2 episodes"
    )
    assert format_result(EvalResult([], []), "z") == "z: no finished episodes"


# --------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_epsilon_zero_equals_sb3_deterministic_evaluation(cartpole) -> None:
    model, _ = cartpole
    ours = evaluate_model(
        model, evaluation_env(CARTPOLE, n_envs=2), n_episodes=7, epsilon=0, seed=3
    )
    scores, lengths = evaluate_policy(
        model,
        make_env(CARTPOLE, n_envs=2, seed=3),
        7,
        deterministic=True,
        return_episode_rewards=True,
    )
    assert ours.n == 7
    assert ours.scores == [float(s) for s in scores]
    assert ours.lengths == [int(n) for n in lengths]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["ale", "sb3"])
def test_epsilon_zero_equals_sb3_deterministic_evaluation_atari(atari, backend: str) -> None:
    model, _ = atari
    kwargs = {"backend": backend, "max_episode_steps": 60}
    ours = evaluate_model(model, evaluation_env(ATARI, **kwargs), n_episodes=2, epsilon=0, seed=5)
    reference = make_env(ATARI, seed=5, clip_reward=False, **kwargs)
    scores, lengths = evaluate_policy(model, reference, 2, return_episode_rewards=True)
    assert ours.scores == [float(s) for s in scores]
    assert ours.lengths == [int(n) for n in lengths]


@pytest.mark.slow
def test_epsilon_greedy_mixes_random_actions_per_env(cartpole) -> None:
    model, _ = cartpole
    env = make_env(CARTPOLE)
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, size=(4_000, 4)).astype(np.float32)
    greedy, _ = model.predict(obs, deterministic=True)
    for epsilon in (0.0, 0.3, 1.0):
        predictor = EpsilonGreedy(model, env.action_space, epsilon, np.random.default_rng(1))
        actions, state = predictor.predict(obs)
        assert state is None and actions.shape == greedy.shape and actions.dtype == greedy.dtype
        # a random action differs from the greedy one with probability 1/2 (2 actions)
        differ = float(np.mean(actions != greedy))
        assert differ == pytest.approx(epsilon / 2, abs=0.03), epsilon
        assert set(np.unique(actions)) <= {0, 1}
    # the draws are per env and per step: two calls on the same batch differ
    predictor = EpsilonGreedy(model, env.action_space, 1.0, np.random.default_rng(2))
    first, _ = predictor.predict(obs[:64])
    second, _ = predictor.predict(obs[:64])
    assert 0 < np.sum(first != second) < 64
    assert 0 < np.sum(first != first[0]) < 64


@pytest.mark.slow
def test_epsilon_one_plays_randomly(cartpole) -> None:
    """CartPole: greedy play of the barely trained model falls in ~10 steps; uniformly random
    play averages ~22 steps per episode."""
    model, _ = cartpole
    env = evaluation_env(CARTPOLE, n_envs=3)
    greedy = evaluate_model(model, env, n_episodes=30, epsilon=0.0, seed=0)
    random = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=0)
    assert greedy.max <= 12 and greedy.std < 2
    assert 15 <= random.mean <= 35 and random.std > 5
    assert random.scores == [float(n) for n in random.lengths]  # CartPole: 1 point per step
    again = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=0)
    other = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=1)
    assert again.scores == random.scores  # the seed fixes env and exploration
    assert other.scores != random.scores


@pytest.mark.slow
def test_default_epsilon_is_the_protocol_s(cartpole) -> None:
    model, _ = cartpole
    env = evaluation_env(CARTPOLE, n_envs=2)
    default = evaluate_model(model, env, n_episodes=30, seed=4)
    explicit = evaluate_model(model, env, n_episodes=30, epsilon=EVAL_EPSILON, seed=4)
    greedy = evaluate_model(model, env, n_episodes=30, epsilon=0.0, seed=4)
    assert EVAL_EPSILON == 0.05 and default.scores == explicit.scores
    assert default.scores != greedy.scores  # ~15 of the ~300 actions were random


@pytest.mark.parametrize(("n_envs", "n_episodes"), [(3, 5), (4, 2), (1, 3)])
def test_counts_exactly_the_requested_episodes(
    untrained_cartpole, n_envs: int, n_episodes: int
) -> None:
    model, _ = untrained_cartpole
    env = evaluation_env(CARTPOLE, n_envs=n_envs)
    result = evaluate_model(model, env, n_episodes=n_episodes, epsilon=0.5, seed=0)
    assert result.n == len(result.lengths) == n_episodes


def test_continuous_actions_take_no_exploration() -> None:
    env = evaluation_env("Pendulum-v1")
    model = TD3(WNTD3Policy, env, policy_kwargs={"net_arch": [16]}, seed=0)
    result = evaluate_model(model, env, n_episodes=2, seed=1)  # default epsilon: 0 here
    scores, _ = evaluate_policy(
        model, make_env("Pendulum-v1", seed=1), 2, return_episode_rewards=True
    )
    assert result.scores == [float(s) for s in scores]
    with pytest.raises(ConfigError, match="discrete action space") as error:
        evaluate_model(model, env, n_episodes=1, epsilon=0.05)
    assert_one_line(error, "Box")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": -0.1}, "epsilon"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"epsilon": "0.05"}, "epsilon"),
        ({"n_episodes": 0}, "n_episodes"),
        ({"n_episodes": 2.5}, "n_episodes"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments(untrained_cartpole, kwargs: dict, match: str) -> None:
    model, _ = untrained_cartpole
    with pytest.raises(ConfigError, match=match) as error:
        evaluate_model(model, evaluation_env(CARTPOLE), **kwargs)
    assert_one_line(error)


def test_model_for_another_env_is_refused(untrained_cartpole) -> None:
    model, _ = untrained_cartpole
    with pytest.raises(ConfigError, match="observation space") as error:
        evaluate_model(model, evaluation_env("Acrobot-v1"), n_episodes=1)
    assert_one_line(error, "evaluate on the environment it was trained on")


# --------------------------------------------------------------------------------------
# Atari: real scores
# --------------------------------------------------------------------------------------
class RewardLog(VecEnvWrapper):
    """Records the rewards env 0 returns, summed per episode (its ``dones``)."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.episodes: list[float] = []
        self.rewarded_steps: list[int] = []
        self.biggest = 0.0
        self._sum, self._count = 0.0, 0

    def reset(self):
        self._sum, self._count = 0.0, 0
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self._sum += float(rewards[0])
        self._count += int(rewards[0] != 0)
        self.biggest = max(self.biggest, float(rewards[0]))
        if dones[0]:
            self.episodes.append(self._sum)
            self.rewarded_steps.append(self._count)
            self._sum, self._count = 0.0, 0
        return obs, rewards, dones, infos


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["ale", "sb3"])
def test_atari_scores_are_unclipped_game_scores(atari, backend: str) -> None:
    model, _ = atari
    cap = {"backend": backend, "max_episode_steps": 250}
    env = RewardLog(evaluation_env(ATARI, **cap))
    result = evaluate_model(model, env, n_episodes=3, epsilon=1.0, seed=7)
    # the evaluation env returns the game's rewards (one invader: 5 to 30 points)...
    assert env.biggest >= 5
    # ...and each score is their sum, the game score, not the number of rewarded steps
    assert result.scores == env.episodes[:3]
    assert all(score % 5 == 0 for score in result.scores)
    assert any(score > n for score, n in zip(result.scores, env.rewarded_steps, strict=False))
    # a training env clips its rewards, yet evaluate_model still reports the game scores
    training = RewardLog(make_env(ATARI, seed=7, **cap))
    clipped = evaluate_model(model, training, n_episodes=3, epsilon=1.0, seed=7)
    assert training.biggest == 1.0
    assert clipped.scores == result.scores


def test_evaluation_env_plays_whole_unclipped_games() -> None:
    env = evaluation_env("breakout", backend="ale", clip_reward=True, terminal_on_life_loss=True)
    assert isinstance(env, AleVecEnv)
    assert env.env_id == "ALE/Breakout-v5"
    assert env.clip_reward is False and env.terminal_on_life_loss is False
    env.close()
    # other ids: make_env unchanged, kwargs to gym.make
    short = evaluation_env(CARTPOLE, n_envs=2, max_episode_steps=5)
    result = evaluate_model(lambda_model(short), short, n_episodes=2, epsilon=1.0, seed=0)
    assert max(result.lengths) <= 5


def lambda_model(env: VecEnv):
    """A model that always plays action 0 (for epsilon-only tests)."""

    class Zero:
        observation_space, action_space = env.observation_space, env.action_space

        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.zeros(len(obs), dtype=np.int64), state

    return Zero()
