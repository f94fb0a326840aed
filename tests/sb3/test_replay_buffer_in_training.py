"""AtariReplayBuffer inside DQN and QR-DQN: the same transitions as SB3's buffer collected by
the algorithms' own loops, gradient steps from it, and its save/load with the model."""

from __future__ import annotations

import pytest
import torch
from replay_streams import (
    ENV_ID,
    assert_same_contents,
    assert_same_samples,
)
from sb3_contrib import QRDQN
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer

from wnrl.buffers import AtariReplayBuffer
from wnrl.envs import make_env

pytestmark = pytest.mark.slow  # every test trains an agent


@pytest.fixture
def one_torch_thread():
    """Train steps on a busy 2-core machine are ~10x slower with 2 torch threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("algo", [DQN, QRDQN])
def test_algorithms_collect_the_same_transitions_as_sb3(algo: type, one_torch_thread) -> None:
    """The algorithm's own ``_store_transition`` (terminal observations from infos) feeds
    both buffers; no gradient step (learning_starts not reached), same seed."""
    models = []
    for buffer_class in (ReplayBuffer, AtariReplayBuffer):
        env = make_env(ENV_ID, n_envs=2, terminal_on_life_loss=True, max_episode_steps=40)
        model = algo(
            "CnnPolicy",
            env,
            buffer_size=160,
            learning_starts=10_000,
            replay_buffer_class=buffer_class,
            seed=7,
            device="cpu",
        )
        model.learn(total_timesteps=240)
        models.append(model)
    ref, ours = (model.replay_buffer for model in models)
    assert type(ours) is AtariReplayBuffer and ours.full and ref.dones.sum() >= 4
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)


def test_dqn_takes_gradient_steps_from_it_and_round_trips_it(tmp_path, one_torch_thread) -> None:
    env = make_env(ENV_ID, n_envs=1, seed=0, max_episode_steps=50)
    model = DQN(
        "CnnPolicy",
        env,
        buffer_size=1000,
        learning_starts=64,
        batch_size=32,
        train_freq=4,
        target_update_interval=100,
        replay_buffer_class=AtariReplayBuffer,
        seed=0,
        device="cpu",
    )
    before = [p.detach().clone() for p in model.q_net.parameters()]
    model.learn(total_timesteps=200)
    assert model._n_updates >= 30
    assert any(not torch.equal(a, b) for a, b in zip(before, model.q_net.parameters(), strict=True))

    path = tmp_path / "buffer.pkl"
    model.save_replay_buffer(path)
    assert path.stat().st_size < 200 * 84 * 84 * 1.1 + 200_000
    restored = DQN("CnnPolicy", env, buffer_size=1000, seed=1, device="cpu")
    restored.load_replay_buffer(path)
    assert type(restored.replay_buffer) is AtariReplayBuffer
    assert_same_samples(model.replay_buffer, restored.replay_buffer)
    restored.learn(total_timesteps=20, reset_num_timesteps=False)
    assert restored.replay_buffer.size() == 220

    # the class travels in the model zip: DQN.load builds an (empty) AtariReplayBuffer again
    model.save(tmp_path / "model.zip")
    loaded = DQN.load(tmp_path / "model.zip", env=env, device="cpu")
    assert type(loaded.replay_buffer) is AtariReplayBuffer and loaded.replay_buffer.size() == 0
