"""wnrl.buffers.AtariReplayBuffer: the same samples as SB3's ReplayBuffer, in ~1/8 the memory.

Every stream of transitions is fed to SB3's own ``ReplayBuffer`` (``optimize_memory_usage=False``)
and to ``AtariReplayBuffer``; the two must hold equal transitions at every ``(index, env)``
(checked exhaustively with ``sample_at``) and return equal seeded ``sample()`` batches. Each
stream test also asserts that the boundary events it is about really occur in the stream.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import QRDQN
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer

from wnrl.buffers import AtariReplayBuffer
from wnrl.envs import make_env

ENV_ID = "ALE/Breakout-v5"
OBS_SPACE = spaces.Box(0, 255, (4, 84, 84), np.uint8)
ACTION_SPACE = spaces.Discrete(4)
FIELDS = ("observations", "actions", "next_observations", "dones", "rewards")

Step = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]


# --------------------------------------------------------------------------------------
# Streams of transitions
# --------------------------------------------------------------------------------------
@dataclass
class Stream:
    """The ``add`` arguments of each step, as SB3's off-policy loop builds them, and counts
    of the episode boundaries seen."""

    steps: list[Step] = field(default_factory=list)
    truncations: int = 0
    fresh_starts: int = 0  # done, and the next obs is a zero-padded first stack
    continuations: int = 0  # done, and the next obs continues the terminal one (life loss)


def record(n_steps: int, n_envs: int = 2, seed: int = 0, **env_kwargs: Any) -> Stream:
    """Step a real Breakout env with random actions and record what SB3's
    ``OffPolicyAlgorithm._store_transition`` would add to its buffer."""
    env = make_env(ENV_ID, n_envs=n_envs, seed=seed, **env_kwargs)
    rng = np.random.default_rng(seed)
    stream = Stream()
    obs = env.reset()
    for _ in range(n_steps):
        actions = rng.integers(0, env.action_space.n, size=n_envs)
        new_obs, rewards, dones, infos = env.step(actions)
        next_obs = new_obs.copy()
        for i in np.flatnonzero(dones):
            terminal = infos[i]["terminal_observation"]
            next_obs[i] = terminal
            stream.truncations += infos[i]["TimeLimit.truncated"]
            if np.array_equal(new_obs[i], terminal):
                stream.continuations += 1
            elif not new_obs[i, :-1].any():
                stream.fresh_starts += 1
        stream.steps.append((obs, next_obs, actions, rewards, dones, infos))
        obs = new_obs
    env.close()
    return stream


@pytest.fixture(scope="module")
def life_loss_stream() -> Stream:
    """ale-py backend, lost lives end learning episodes (the stack goes on), a game over,
    a truncation."""
    stream = record(260, terminal_on_life_loss=True, max_episode_steps=170)
    assert stream.continuations >= 4 and stream.fresh_starts >= 1 and stream.truncations >= 1
    return stream


@pytest.fixture(scope="module")
def short_episodes_stream() -> Stream:
    """Episodes truncated after 9 steps: many boundaries, for wraparound."""
    stream = record(120, max_episode_steps=9)
    assert stream.truncations >= 20 and stream.fresh_starts == stream.truncations
    return stream


def synthetic_stream(n_steps: int, n_envs: int, seed: int) -> list[Step]:
    """Adversarial streams: 1-step episodes, first stacks with non-zero (or partly zero)
    padding, next_obs that are not obs shifted, obs that break the chain without a done,
    continuations after a done, and frames repeated across envs."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(40, 84, 84), dtype=np.uint8)
    pool[0] = 0

    def frames(k: int) -> np.ndarray:
        return pool[rng.integers(0, len(pool), size=k)]

    stacks = np.stack([frames(4) for _ in range(n_envs)])
    steps: list[Step] = []
    for _ in range(n_steps):
        obs = stacks.copy()
        next_obs = np.concatenate([obs[:, 1:], frames(n_envs)[:, None]], axis=1)
        irregular = rng.random(n_envs) < 0.1
        for i in np.flatnonzero(irregular):
            next_obs[i] = frames(4)
        dones = rng.random(n_envs) < 0.3
        truncated = dones & (rng.random(n_envs) < 0.5)
        infos = [{"TimeLimit.truncated": bool(t)} for t in truncated]
        stacks = next_obs.copy()
        for i in range(n_envs):
            kind = rng.integers(0, 5)
            if dones[i] and kind < 3:  # reset: zero padding (kind 0) or arbitrary stacks
                stacks[i] = frames(4)
                stacks[i, : 3 - kind] = 0
            elif not dones[i] and kind == 0:  # a user feeding a broken chain
                stacks[i, rng.integers(0, 4)] = frames(1)[0]
        actions = rng.integers(0, 4, size=n_envs)
        rewards = rng.normal(size=n_envs).astype(np.float32)
        steps.append((obs, next_obs, actions, rewards, dones.astype(np.float32), infos))
    return steps


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------
def make_pair(
    size: int, n_envs: int, handle_timeout_termination: bool = True
) -> tuple[ReplayBuffer, AtariReplayBuffer]:
    kwargs = dict(
        device="cpu", n_envs=n_envs, handle_timeout_termination=handle_timeout_termination
    )
    return (
        ReplayBuffer(size, OBS_SPACE, ACTION_SPACE, **kwargs),
        AtariReplayBuffer(size, OBS_SPACE, ACTION_SPACE, **kwargs),
    )


def assert_same_contents(ref: ReplayBuffer, ours: AtariReplayBuffer) -> None:
    """Every stored transition, (index, env) by (index, env), against SB3's arrays."""
    assert (ours.size(), ours.pos, ours.full) == (ref.size(), ref.pos, ref.full)
    inds, envs = np.meshgrid(np.arange(ref.size()), np.arange(ref.n_envs), indexing="ij")
    inds, envs = inds.ravel(), envs.ravel()
    got = ours.sample_at(inds, envs)
    timeouts = ref.timeouts[inds, envs]
    want = {
        "observations": ref.observations[inds, envs],
        "actions": ref.actions[inds, envs],
        "next_observations": ref.next_observations[inds, envs],
        "dones": (ref.dones[inds, envs] * (1 - timeouts)).reshape(-1, 1),
        "rewards": ref.rewards[inds, envs].reshape(-1, 1),
    }
    for name in FIELDS:
        tensor = getattr(got, name)
        assert tensor.dtype == torch.from_numpy(want[name]).dtype, name
        np.testing.assert_array_equal(tensor.numpy(), want[name], err_msg=name)


def assert_same_samples(ref: ReplayBuffer, ours: ReplayBuffer, batch: int = 64) -> None:
    """``sample()`` through the public API with the same numpy seed: equal batches."""
    np.random.seed(1234)
    want = ref.sample(batch)
    np.random.seed(1234)
    got = ours.sample(batch)
    for name in FIELDS:
        a, b = getattr(want, name), getattr(got, name)
        assert (a.dtype, a.shape, a.device) == (b.dtype, b.shape, b.device), name
        assert b.is_contiguous(), name
        assert torch.equal(a, b), name
    assert got.discounts is None


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def feed(buffers: tuple[ReplayBuffer, ...], steps: list[Step]) -> None:
    for step in steps:
        for buffer in buffers:
            buffer.add(*step)


# --------------------------------------------------------------------------------------
# Equality with SB3 on real Atari streams
# --------------------------------------------------------------------------------------
def test_life_losses_game_over_and_truncation_match_sb3(life_loss_stream: Stream) -> None:
    ref, ours = make_pair(1000, n_envs=2)
    feed((ref, ours), life_loss_stream.steps)
    assert ref.dones.sum() >= 6 and ref.timeouts.sum() >= 1
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)


def test_each_frame_stored_once(life_loss_stream: Stream) -> None:
    """Only the first frame of a fresh (zero-padded) episode goes to the side store; life-loss
    terminals continue the stored stack; padding refers to the shared zero frame."""
    ref, ours = make_pair(1000, n_envs=2)
    feed((ref, ours), life_loss_stream.steps)
    first_stacks = 2  # the reset of each env
    assert len(ours._side_live) == first_stacks + life_loss_stream.fresh_starts
    assert ours._step == len(life_loss_stream.steps)


def test_sb3_backend_zero_padded_restarts_match_sb3() -> None:
    """SB3's pipeline restarts the stack with zero padding after a lost life."""
    stream = record(110, backend="sb3", terminal_on_life_loss=True)
    assert stream.fresh_starts >= 3 and stream.continuations == 0
    ref, ours = make_pair(400, n_envs=2)
    feed((ref, ours), stream.steps)
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)


@pytest.mark.parametrize("per_env", [1, 2, 3, 4, 5, 7, 16])
def test_wraparound_matches_sb3_after_every_step(
    short_episodes_stream: Stream, per_env: int
) -> None:
    """Tiny rings overwritten many times: every transition still in the buffer stays exact
    (no wraparound exclusion), checked after every add."""
    ref, ours = make_pair(2 * per_env, n_envs=2)
    for step in short_episodes_stream.steps:
        feed((ref, ours), [step])
        assert_same_contents(ref, ours)
    assert ours.full
    assert_same_samples(ref, ours)


def test_handle_timeout_termination_false_matches_sb3(short_episodes_stream: Stream) -> None:
    ref, ours = make_pair(1000, n_envs=2, handle_timeout_termination=False)
    feed((ref, ours), short_episodes_stream.steps)
    assert ours.timeouts.sum() == 0 and ours.dones.sum() >= 20
    assert_same_contents(ref, ours)


# --------------------------------------------------------------------------------------
# Adversarial streams and several envs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("n_envs", "per_env"), [(1, 3), (3, 5), (4, 64)])
def test_irregular_streams_match_sb3(n_envs: int, per_env: int) -> None:
    steps = synthetic_stream(160, n_envs, seed=n_envs)
    ref, ours = make_pair(n_envs * per_env, n_envs)
    for t, step in enumerate(steps):
        feed((ref, ours), [step])
        if per_env < 10 or t % 9 == 0:  # the big buffer: enough to see each wrap
            assert_same_contents(ref, ours)
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)
    # side frames are recycled: at most 7 per env and step are referenced by live transitions
    assert len(ours._side) <= 2 * 7 * n_envs * (per_env + 4)


def test_envs_with_interleaved_episode_boundaries() -> None:
    """Four envs whose episodes end at different steps keep separate frame streams."""
    stream = record(90, n_envs=4, seed=3, max_episode_steps=30, terminal_on_life_loss=True)
    dones = np.array([step[4] for step in stream.steps])
    assert (dones.sum(axis=1) == 1).sum() >= 3  # steps that end the episode of one env only
    ref, ours = make_pair(4 * 50, n_envs=4)
    feed((ref, ours), stream.steps)
    assert ours.full
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)


# --------------------------------------------------------------------------------------
# Pickling
# --------------------------------------------------------------------------------------
def test_pickle_is_compact_and_resumes_exactly(life_loss_stream: Stream) -> None:
    ref, ours = make_pair(100_000, n_envs=2)
    half = len(life_loss_stream.steps) // 2
    feed((ref, ours), life_loss_stream.steps[:half])
    blob = pickle.dumps(ours, protocol=pickle.HIGHEST_PROTOCOL)
    written_frames = half * 2 * 84 * 84
    assert len(blob) < written_frames * 1.1 + 200_000  # not the 1.4 GB of allocated arrays
    assert ours.nbytes > 100 * len(blob)
    loaded = pickle.loads(blob)
    assert "_last_next" not in loaded.__getstate__()
    assert loaded.nbytes == ours.nbytes
    assert_same_contents(ref, loaded)
    # adding after the round trip continues the stacks exactly as before
    feed((ref, loaded), life_loss_stream.steps[half:])
    assert_same_contents(ref, loaded)
    assert len(loaded._side_live) == 2 + life_loss_stream.fresh_starts


# --------------------------------------------------------------------------------------
# SB3 algorithms
# --------------------------------------------------------------------------------------
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


def test_dqn_learns_and_round_trips_its_replay_buffer(tmp_path, one_torch_thread) -> None:
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


# --------------------------------------------------------------------------------------
# Memory and validation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_envs", [1, 8])
def test_one_million_transitions_fit_in_8_gb_lazily(n_envs: int) -> None:
    rss = resident_bytes()
    buffer = AtariReplayBuffer(1_000_000, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=n_envs)
    arrays = (buffer.frames, buffer.frame_refs, buffer.actions, buffer.rewards, buffer.dones)
    total = sum(a.nbytes for a in arrays) + buffer.timeouts.nbytes + buffer._side.nbytes
    assert total == buffer.nbytes
    assert total / (buffer.buffer_size * n_envs) * 1e6 < 7.2e9  # SB3: 56.5e9, 28.2e9 optimized
    assert resident_bytes() - rss < 200e6  # allocated lazily: pages not touched


@pytest.mark.parametrize(
    "space",
    [
        spaces.Box(0, 255, (84, 84, 4), np.uint8),  # channel-last
        spaces.Box(0, 255, (4, 84, 84), np.float32),
        spaces.Box(0, 255, (3, 84, 84), np.uint8),
        spaces.Box(0, 255, (4, 64, 64), np.uint8),
        spaces.Box(-1, 1, (4,), np.float32),
        spaces.Discrete(5),
    ],
)
def test_other_observation_spaces_raise(space: spaces.Space) -> None:
    with pytest.raises(ValueError, match=r"\(4, 84, 84\)"):
        AtariReplayBuffer(100, space, ACTION_SPACE)


def test_wrong_add_shape_raises() -> None:
    buffer = AtariReplayBuffer(100, OBS_SPACE, ACTION_SPACE, n_envs=2)
    obs = np.zeros((1, 4, 84, 84), np.uint8)
    with pytest.raises(ValueError, match="shape"):
        buffer.add(obs, obs, np.zeros(1), np.zeros(1), np.zeros(1), [{}])


def test_optimize_memory_usage_flag_is_accepted_and_ignored(short_episodes_stream: Stream) -> None:
    """DQN passes ``optimize_memory_usage``; SB3's buffer refuses it with timeout handling."""
    ours = AtariReplayBuffer(
        200, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=2, optimize_memory_usage=True
    )
    ref = ReplayBuffer(200, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=2)
    feed((ref, ours), short_episodes_stream.steps)
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)
