"""wnrl.envs' ids and arguments: canonical ids, bare game names, suggestions for typos, the
backend choice, one-line errors, and non-Atari gymnasium envs as SB3 VecEnvs."""

from __future__ import annotations

import numpy as np
import pytest

from wnrl.envs import AleVecEnv, canonical_env_id, is_atari, make_env

BACKENDS = ["ale", "sb3"]
GAMES = ["ALE/Breakout-v5", "PongNoFrameskip-v4"]


# --------------------------------------------------------------------------------------
# ids
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("breakout", "ALE/Breakout-v5"),
        ("Breakout", "ALE/Breakout-v5"),
        ("space_invaders", "ALE/SpaceInvaders-v5"),
        ("SpaceInvaders", "ALE/SpaceInvaders-v5"),
        ("ms-pacman", "ALE/MsPacman-v5"),
        ("ALE/Pong-v5", "ALE/Pong-v5"),
        ("BreakoutNoFrameskip-v4", "BreakoutNoFrameskip-v4"),
        ("breakoutnoframeskip-v4", "BreakoutNoFrameskip-v4"),
        ("CartPole-v1", "CartPole-v1"),
    ],
)
def test_canonical_env_id(name: str, expected: str) -> None:
    assert canonical_env_id(name) == expected


def test_is_atari() -> None:
    assert is_atari("breakout")
    assert is_atari("PongNoFrameskip-v4")
    assert is_atari("ALE/SpaceInvaders-v5")
    assert not is_atari("CartPole-v1")
    assert not is_atari("NoSuchGame-v0")


@pytest.mark.parametrize(
    ("bad", "suggested"),
    [
        ("ALE/Breakot-v5", "ALE/Breakout-v5"),
        ("breakot", "ALE/Breakout-v5"),
        ("SpaceInvader", "ALE/SpaceInvaders-v5"),
        ("CartPol-v1", "CartPole-v1"),
    ],
)
def test_unknown_id_raises_with_suggestion(bad: str, suggested: str) -> None:
    with pytest.raises(ValueError) as caught:
        make_env(bad)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(bad) in message
    assert repr(suggested) in message
    with pytest.raises(ValueError, match="unknown environment id"):
        canonical_env_id(bad)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="backend"):
        make_env("breakout", backend="envpool")
    with pytest.raises(ValueError, match="Atari"):
        make_env("CartPole-v1", backend="ale")
    with pytest.raises(ValueError, match="clip_rewards"):
        make_env("breakout", clip_rewards=False)
    with pytest.raises(ValueError, match="n_envs"):
        make_env("breakout", n_envs=0)
    with pytest.raises(ValueError, match="noop_max"):
        make_env("breakout", backend="ale", noop_max=0)


def test_auto_backend_choice() -> None:
    env = make_env("breakout", 2)
    assert isinstance(env, AleVecEnv)
    env.close()
    env = make_env("breakout", 1, noop_max=0)  # ale-py's vector env needs noop_max >= 1
    assert not isinstance(env, AleVecEnv)
    env.close()


def test_non_atari_env() -> None:
    env = make_env("CartPole-v1", 3, seed=0, max_episode_steps=5)
    assert not isinstance(env, AleVecEnv)
    assert env.observation_space.shape == (4,)
    obs = env.reset()
    assert obs.shape == (3, 4) and obs.dtype == np.float32
    actions = np.array([0, 1, 0])
    for t in range(1, 6):
        obs, rewards, dones, infos = env.step(actions)
        assert rewards.shape == (3,) and dones.shape == (3,)
        assert dones.all() == (t == 5)
        actions = 1 - actions
    for info in infos:
        assert info["TimeLimit.truncated"] is True
        assert info["terminal_observation"].shape == (4,)
        assert info["episode"] == {"r": 5.0, "l": 5, "t": info["episode"]["t"]}
    env.close()
