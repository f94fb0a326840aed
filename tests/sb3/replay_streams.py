"""Streams of Atari transitions (recorded from real Breakout envs, or adversarial) and checks
that an AtariReplayBuffer holds what SB3's ReplayBuffer holds (test helpers)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
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
