"""Both Atari backends (ale-py's C++ vector env, SB3's wrappers) on real ROMs: the same spaces
and pixels, auto-reset on truncation and game over, unclipped scores, seeding and sticky actions,
and SB3 training on one backend and evaluating on the other."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode
from stable_baselines3 import DQN
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage

from wnrl.envs import MAX_EPISODE_STEPS, AleVecEnv, make_env

BACKENDS = ["ale", "sb3"]
GAMES = ["ALE/Breakout-v5", "PongNoFrameskip-v4"]


def random_actions(env: VecEnv, seed: int) -> Callable[[], np.ndarray]:
    """A reproducible stream of random actions for every env."""
    rng = np.random.default_rng(seed)
    n_actions = int(env.action_space.n)
    return lambda: rng.integers(0, n_actions, size=env.num_envs)


# --------------------------------------------------------------------------------------
# spaces, shapes, layout
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", GAMES)
def test_backends_same_spaces_shapes_and_pixels(env_id: str) -> None:
    ale = make_env(env_id, 2, seed=0, backend="ale")
    sb3 = make_env(env_id, 2, seed=0, backend="sb3")
    assert isinstance(ale, AleVecEnv)
    assert isinstance(sb3, VecTransposeImage)
    assert ale.observation_space == sb3.observation_space
    assert ale.observation_space.shape == (4, 84, 84)
    assert ale.observation_space.dtype == np.uint8
    assert ale.action_space == sb3.action_space
    assert ale.get_action_meanings() == sb3.get_attr("unwrapped")[0].get_action_meanings()

    obs = {"ale": ale.reset(), "sb3": sb3.reset()}
    for backend, first in obs.items():
        assert first.shape == (2, 4, 84, 84) and first.dtype == np.uint8, backend
        # a new episode: the 3 older frames are zeros, the newest is the screen
        assert not first[:, :3].any(), backend
        assert first[:, 3].mean() > 5, backend
    # Same preprocessing and layout: the two first screens agree pixel for pixel up to the
    # random no-op starts (a transposed or differently scaled frame would be far off).
    gap = np.abs(obs["ale"][:, 3].astype(np.int16) - obs["sb3"][:, 3]).mean()
    assert gap < 2.0
    assert np.abs(obs["ale"][:, 3].astype(np.int16) - obs["sb3"][:, 3].swapaxes(1, 2)).mean() > 10

    for backend, env in (("ale", ale), ("sb3", sb3)):
        before = obs[backend]
        after, rewards, dones, infos = env.step(np.array([1, 0]))
        assert after.shape == (2, 4, 84, 84) and after.dtype == np.uint8
        assert rewards.shape == (2,) and rewards.dtype == np.float32
        assert dones.shape == (2,) and dones.dtype == np.bool_
        assert len(infos) == 2 and all(isinstance(info, dict) for info in infos)
        assert {"lives", "TimeLimit.truncated"} <= set(infos[0])
        # frames shift along axis 1, newest last
        np.testing.assert_array_equal(after[:, :3], before[:, 1:])
        env.close()


# --------------------------------------------------------------------------------------
# auto-reset, truncation, termination
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_truncation_autoreset(backend: str) -> None:
    limit = 40
    env = make_env("ALE/Breakout-v5", 2, seed=1, backend=backend, max_episode_steps=limit)
    prev = env.reset()
    actions = random_actions(env, 0)
    ended_at: dict[int, int] = {}
    for t in range(1, limit + 2):
        obs, _, dones, infos = env.step(actions())
        for i, info in enumerate(infos):
            if i in ended_at:
                continue
            if not dones[i]:
                assert info["TimeLimit.truncated"] is False
                assert "terminal_observation" not in info and "episode" not in info
                continue
            ended_at[i] = t
            assert info["TimeLimit.truncated"] is True
            last = info["terminal_observation"]
            assert last.shape == (4, 84, 84) and last.dtype == np.uint8
            np.testing.assert_array_equal(last[:3], prev[i, 1:])  # continues the old episode
            assert not obs[i, :3].any()  # the returned obs starts the new episode
            assert {"r", "l", "t"} <= set(info["episode"])
        prev = obs
    assert sorted(ended_at) == [0, 1]
    if backend == "ale":
        assert set(ended_at.values()) == {limit}  # exactly max_episode_steps agent steps
    else:
        # SB3/ALE count emulator frames against 4 * limit, the reset no-ops included
        assert all(limit - 8 <= t <= limit for t in ended_at.values())
    env.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_game_over_autoreset(backend: str) -> None:
    env = make_env("ALE/Breakout-v5", 2, seed=2, backend=backend)
    prev = env.reset()
    actions = random_actions(env, 1)
    seen_dones = 0
    for _ in range(3000):
        obs, _, dones, infos = env.step(actions())
        for i in np.flatnonzero(dones):
            info = infos[i]
            assert info["TimeLimit.truncated"] is False
            np.testing.assert_array_equal(info["terminal_observation"][:3], prev[i, 1:])
            assert not obs[i, :3].any()
            assert "episode" in info
            assert info["episode"]["l"] > 100  # emulator frames of a whole Breakout game
            seen_dones += 1
        if seen_dones >= 2:
            break
        prev = obs
    assert seen_dones >= 2
    env.close()


def test_ale_autoreset_matches_next_step_reference() -> None:
    """AleVecEnv's same-step conversion against ale-py in gymnasium's next-step mode, which
    returns the true last observation on the done step and the reset one a step later."""
    seed = 5
    env = AleVecEnv("ALE/Breakout-v5", 1, seed=seed, clip_reward=False)
    ref = AtariVectorEnv(
        "breakout",
        1,
        max_num_frames_per_episode=MAX_EPISODE_STEPS * 4,
        repeat_action_probability=0.25,
        autoreset_mode=AutoresetMode.NEXT_STEP,
        reward_clipping=False,
    )
    obs = env.reset()
    ref_obs, _ = ref.reset(seed=seed)
    np.testing.assert_array_equal(obs, ref_obs)
    actions = random_actions(env, 3)
    score = 0.0
    for _ in range(5000):
        action = actions()
        obs, rewards, dones, infos = env.step(action)
        ref_obs, ref_rewards, ref_term, ref_trunc, _ = ref.step(action)
        np.testing.assert_array_equal(rewards, ref_rewards)
        score += float(ref_rewards[0])
        assert dones[0] == (ref_term[0] or ref_trunc[0])
        if dones[0]:
            np.testing.assert_array_equal(infos[0]["terminal_observation"], ref_obs[0])
            assert infos[0]["episode"]["r"] == score
            ref_obs, ref_rewards, ref_term, ref_trunc, _ = ref.step(action)  # its reset step
            assert ref_rewards[0] == 0 and not ref_term[0] and not ref_trunc[0]
            np.testing.assert_array_equal(obs, ref_obs)
            break
        np.testing.assert_array_equal(obs, ref_obs)
    else:
        raise AssertionError("no game over")
    env.close()
    ref.close()


# --------------------------------------------------------------------------------------
# scores and rewards
# --------------------------------------------------------------------------------------
@pytest.mark.slow  # ~1.3 s each
@pytest.mark.parametrize("backend", BACKENDS)
def test_episode_score_is_unclipped(backend: str) -> None:
    """SpaceInvaders pays 5..30 per alien: step rewards are clipped, the score is not.

    Two copies with the same seed and actions, one clipped and one not, play the same games;
    each env plays two episodes (truncated at 100 steps), each scored on its own."""
    kwargs = {"backend": backend, "seed": 3, "max_episode_steps": 100}
    clipped = make_env("ALE/SpaceInvaders-v5", 2, clip_reward=True, **kwargs)
    raw = make_env("ALE/SpaceInvaders-v5", 2, clip_reward=False, **kwargs)
    clipped.reset()
    raw.reset()
    actions = random_actions(clipped, 4)
    raw_sum = np.zeros(2)
    clipped_sum = np.zeros(2)
    scores: list[list[float]] = [[], []]
    for _ in range(250):
        action = actions()
        _, rewards, dones, infos = clipped.step(action)
        _, raw_rewards, raw_dones, raw_infos = raw.step(action)
        np.testing.assert_array_equal(dones, raw_dones)
        assert set(np.unique(rewards)) <= {-1.0, 0.0, 1.0}
        np.testing.assert_array_equal(rewards, np.sign(raw_rewards))
        raw_sum += raw_rewards
        clipped_sum += rewards
        for i in range(2):
            if not dones[i]:
                assert "episode" not in infos[i]
                continue
            assert infos[i]["episode"]["r"] == pytest.approx(raw_sum[i])
            assert raw_infos[i]["episode"]["r"] == pytest.approx(raw_sum[i])
            assert infos[i]["episode"]["r"] >= clipped_sum[i]
            scores[i].append(infos[i]["episode"]["r"])
            raw_sum[i] = clipped_sum[i] = 0.0
        if min(len(s) for s in scores) >= 2:
            break
    assert min(len(s) for s in scores) >= 2
    assert max(max(s) for s in scores) > 1  # aliens shot: a real score, not a count
    clipped.close()
    raw.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_terminal_on_life_loss_keeps_game_score(backend: str) -> None:
    """With end-of-life terminals, Breakout's 5 lives give 5 dones per game, the score
    (infos["episode"]) comes once per game and sums the rewards of all 5 lives."""
    env = make_env(
        "ALE/Breakout-v5", 1, seed=4, backend=backend, clip_reward=False, terminal_on_life_loss=True
    )
    env.reset()
    actions = random_actions(env, 5)
    dones_in_game = 0
    total = 0.0
    for _ in range(3000):
        _, rewards, dones, infos = env.step(actions())
        total += float(rewards[0])
        if dones[0]:
            dones_in_game += 1
            assert "terminal_observation" in infos[0]
            if "episode" in infos[0]:
                break
            assert infos[0]["lives"] == 5 - dones_in_game
    else:
        raise AssertionError("no game over")
    assert dones_in_game == 5
    assert infos[0]["episode"]["r"] == pytest.approx(total)
    env.close()


# --------------------------------------------------------------------------------------
# seeding and sticky actions
# --------------------------------------------------------------------------------------
def _trajectory(env_id: str, seed: int, steps: int = 150, **kwargs) -> np.ndarray:
    env = make_env(env_id, 2, seed=seed, backend="ale", **kwargs)
    frames = [env.reset()]
    actions = random_actions(env, 9)
    for _ in range(steps):
        frames.append(env.step(actions())[0])
    env.close()
    return np.stack(frames)


@pytest.mark.slow
def test_ale_seed_reproducible() -> None:
    first = _trajectory("ALE/Breakout-v5", seed=7)
    np.testing.assert_array_equal(first, _trajectory("ALE/Breakout-v5", seed=7))
    assert not np.array_equal(first, _trajectory("ALE/Breakout-v5", seed=8))


@pytest.mark.slow
def test_sticky_actions_follow_id_convention() -> None:
    """v5: sticky actions (p=0.25); v4: none. Same seed and actions: a v5 game with p forced
    to 0 replays the v4 game exactly, the v5 default does not."""
    assert AleVecEnv("ALE/Pong-v5").repeat_action_probability == 0.25
    assert AleVecEnv("PongNoFrameskip-v4").repeat_action_probability == 0.0
    v4 = _trajectory("BreakoutNoFrameskip-v4", seed=11)
    np.testing.assert_array_equal(
        v4, _trajectory("ALE/Breakout-v5", seed=11, repeat_action_probability=0.0)
    )
    assert not np.array_equal(v4, _trajectory("ALE/Breakout-v5", seed=11))
    sb3 = make_env("ALE/Pong-v5", 1, backend="sb3")
    assert sb3.get_attr("unwrapped")[0].ale.getFloat("repeat_action_probability") == 0.25
    sb3 = make_env("PongNoFrameskip-v4", 1, backend="sb3")
    assert sb3.get_attr("unwrapped")[0].ale.getFloat("repeat_action_probability") == 0.0


# --------------------------------------------------------------------------------------
# SB3 integration
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_dqn_trains_on_one_backend_and_evaluates_on_the_other(tmp_path) -> None:
    models = {}
    for backend in BACKENDS:
        env = make_env("ALE/Breakout-v5", 2, seed=0, backend=backend)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = DQN("CnnPolicy", env, buffer_size=200, learning_starts=40, seed=0)
            model.learn(60)
        assert [str(w.message) for w in caught] == []
        assert model.get_env() is env  # channel-first: SB3 adds no VecTransposeImage
        models[backend] = tmp_path / f"dqn_{backend}"
        model.save(models[backend])
        env.close()
    for trained, evaluated in (("ale", "sb3"), ("sb3", "ale")):
        env = make_env(
            "ALE/Breakout-v5", 1, seed=1, backend=evaluated, clip_reward=False, max_episode_steps=30
        )
        assert env.env_is_wrapped(Monitor)[0]  # evaluate_policy reads infos["episode"]
        model = DQN.load(models[trained], env=env)
        rewards, lengths = evaluate_policy(
            model, env, n_eval_episodes=2, return_episode_rewards=True
        )
        assert len(rewards) == 2 and all(length > 30 for length in lengths)  # frames
        env.close()
