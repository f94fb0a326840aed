"""wnrl.buffers.AtariReplayBuffer: the same samples as SB3's ReplayBuffer, in ~1/8 the memory.

Every stream of transitions is fed to SB3's own ``ReplayBuffer`` (``optimize_memory_usage=False``)
and to ``AtariReplayBuffer``; the two must hold equal transitions at every ``(index, env)``
(checked exhaustively with ``sample_at``) and return equal seeded ``sample()`` batches. Each
stream test also asserts that the boundary events it is about really occur in the stream.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from gymnasium import spaces
from replay_streams import (
    ACTION_SPACE,
    OBS_SPACE,
    Stream,
    assert_same_contents,
    assert_same_samples,
    feed,
    make_pair,
    record,
    resident_bytes,
    synthetic_stream,
)
from stable_baselines3.common.buffers import ReplayBuffer

from wnrl.buffers import AtariReplayBuffer


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
@pytest.mark.parametrize(
    ("n_envs", "per_env"), [(1, 3), (3, 5), pytest.param(4, 64, marks=pytest.mark.slow)]
)
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


@pytest.mark.slow  # ~2 s
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


def test_optimize_memory_usage_flag_is_accepted_and_ignored(short_episodes_stream: Stream) -> None:
    """DQN passes ``optimize_memory_usage``; SB3's buffer refuses it with timeout handling."""
    ours = AtariReplayBuffer(
        200, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=2, optimize_memory_usage=True
    )
    ref = ReplayBuffer(200, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=2)
    feed((ref, ours), short_episodes_stream.steps)
    assert_same_contents(ref, ours)
    assert_same_samples(ref, ours)


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
