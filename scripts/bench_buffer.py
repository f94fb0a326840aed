"""Benchmark: memory and sampling speed of wnrl's AtariReplayBuffer against SB3's ReplayBuffer.

Memory: bytes per transition from the arrays' ``nbytes`` (allocated size; ``np.zeros`` pages are
not touched, so nothing is filled) for SB3's ``ReplayBuffer`` with ``optimize_memory_usage``
False and True and for ``AtariReplayBuffer``, and the projected GB for 1M transitions. A buffer
whose arrays cannot even be reserved on this machine (SB3's at 1M needs 56 GB) is measured at a
smaller size, named in the output; bytes per transition do not depend on the size.

Speed: both buffers (same size) are filled with the same stream of ``--fill`` transitions of
synthetic Atari-like episodes (frame-stacked, zero-padded starts, terminal observations), then
``sample(batch)`` is timed side by side: rounds alternate SB3 / ours with the same numpy seed
(same indices), and the ratio printed is the median of the per-round time ratios SB3 / ours
(> 1: ours is faster). SB3 copies each sampled array through ``torch.tensor`` (torch's
parallel copy: ``--threads`` matters, and 2 threads on 2 busy cores slow SB3 down a lot); ours
gathers fresh arrays with numpy fancy indexing and hands them to torch without a second copy.

    python scripts/bench_buffer.py [--size 1000000] [--fill 50000] [--batch 32 64]
                                   [--rounds 15] [--calls 200] [--n-envs 1] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from wnrl.buffers import AtariReplayBuffer

OBS_SPACE = spaces.Box(0, 255, (4, 84, 84), np.uint8)
ACTION_SPACE = spaces.Discrete(4)


def build(kind: str, size: int, n_envs: int) -> ReplayBuffer:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3's "not enough memory" warning
        if kind == "ours":
            return AtariReplayBuffer(size, OBS_SPACE, ACTION_SPACE, device="cpu", n_envs=n_envs)
        optimize = kind == "sb3-optimized"
        return ReplayBuffer(
            size,
            OBS_SPACE,
            ACTION_SPACE,
            device="cpu",
            n_envs=n_envs,
            optimize_memory_usage=optimize,
            handle_timeout_termination=not optimize,
        )


def buffer_nbytes(buffer: ReplayBuffer) -> int:
    if isinstance(buffer, AtariReplayBuffer):
        return buffer.nbytes
    names = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")
    return sum(getattr(buffer, name).nbytes for name in names if hasattr(buffer, name))


def bytes_per_transition(kind: str, size: int, n_envs: int) -> tuple[float, int]:
    """Bytes per transition, and the size it was measured at (smaller if ``size`` cannot be
    reserved here)."""
    while True:
        try:
            buffer = build(kind, size, n_envs)
        except MemoryError:
            size //= 10
            continue
        per = buffer_nbytes(buffer) / (buffer.buffer_size * n_envs)
        del buffer
        return per, size


def synthetic_stream(n_steps: int, n_envs: int, seed: int = 0):
    """(obs, next_obs, action, reward, done, infos) per step, as SB3's off-policy loop adds
    them: zero-padded first stacks, terminal observations in next_obs, some truncations."""
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, size=(512, 84, 84), dtype=np.uint8)
    stacks = np.zeros((n_envs, 4, 84, 84), dtype=np.uint8)
    stacks[:, -1] = pool[rng.integers(0, len(pool), n_envs)]
    left = rng.geometric(1 / 300, size=n_envs)
    for _ in range(n_steps):
        obs = stacks.copy()
        stacks[:, :-1] = stacks[:, 1:]
        stacks[:, -1] = pool[rng.integers(0, len(pool), n_envs)]
        next_obs = stacks.copy()
        left -= 1
        done = left <= 0
        truncated = done & (rng.random(n_envs) < 0.2)
        infos = [{"TimeLimit.truncated": bool(t)} for t in truncated]
        for env in np.flatnonzero(done):  # auto-reset
            stacks[env] = 0
            stacks[env, -1] = pool[rng.integers(0, len(pool))]
            left[env] = rng.geometric(1 / 300)
        action = rng.integers(0, 4, size=n_envs)
        reward = rng.choice(np.array([-1.0, 0.0, 1.0], dtype=np.float32), size=n_envs)
        yield obs, next_obs, action, reward, done.astype(np.float32), infos


def time_sampling(buffer: ReplayBuffer, batch: int, calls: int, seed: int) -> float:
    np.random.seed(seed)
    start = time.perf_counter()
    for _ in range(calls):
        buffer.sample(batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="buffer size for memory")
    parser.add_argument("--fill", type=int, default=50_000, help="transitions for the timing")
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200, help="sample() calls per round")
    parser.add_argument("--n-envs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"Memory (array nbytes, n_envs={args.n_envs}):")
    for kind in ("sb3", "sb3-optimized", "ours"):
        per, measured_at = bytes_per_transition(kind, args.size, args.n_envs)
        note = "" if measured_at == args.size else f"  (measured at buffer_size={measured_at:,})"
        label = {
            "sb3": "SB3 ReplayBuffer",
            "sb3-optimized": "SB3 ReplayBuffer optimize_memory_usage",
            "ours": "wnrl AtariReplayBuffer",
        }[kind]
        print(
            f"  {label:40s} {per:9,.0f} B/transition  "
            f"{per * 1e6 / 1e9:6.2f} GB per 1M transitions{note}"
        )

    print(f"\nSampling speed (buffers of {args.fill:,} transitions, filled with the same stream):")
    sb3 = build("sb3", args.fill, args.n_envs)
    ours = build("ours", args.fill, args.n_envs)
    start = time.perf_counter()
    for step in synthetic_stream(args.fill // args.n_envs, args.n_envs):
        sb3.add(*step)
        ours.add(*step)
    print(f"  filled in {time.perf_counter() - start:.1f} s; checking samples are identical")
    np.random.seed(0)
    a = sb3.sample(256)
    np.random.seed(0)
    b = ours.sample(256)
    for x, y in zip(a, b, strict=True):
        same = x is y is None or (torch.equal(x, y) and x.dtype == y.dtype)
        assert same, "samples differ"
    for batch in args.batch:
        time_sampling(sb3, batch, args.calls // 4, 0)  # warm-up
        time_sampling(ours, batch, args.calls // 4, 0)
        ratios, t_sb3, t_ours = [], [], []
        for r in range(args.rounds):
            t_sb3.append(time_sampling(sb3, batch, args.calls, r))
            t_ours.append(time_sampling(ours, batch, args.calls, r))
            ratios.append(t_sb3[-1] / t_ours[-1])
        print(
            f"  batch {batch:4d}: speed ours/SB3 = {statistics.median(ratios):.2f}x "
            f"(median of {args.rounds} rounds of {args.calls} calls, "
            f"min {min(ratios):.2f}x, max {max(ratios):.2f}x)"
        )


if __name__ == "__main__":
    main()
