"""Benchmark: Atari env throughput of wnrl's two backends, side by side.

Times ``env.step`` with random actions on the same game for backend ``"ale"`` (ale-py's C++
``AtariVectorEnv`` behind :class:`wnrl.envs.AleVecEnv`) and backend ``"sb3"`` (SB3's
``make_atari_env`` + ``VecFrameStack`` + ``VecTransposeImage``), both producing the same
``(n_envs, 4, 84, 84)`` uint8 observations. Rounds alternate ale / sb3 so drifts in machine
speed hit both alike. Prints env steps/s (environment transitions, i.e. vector steps x
n_envs) per round, the median per backend and the ratio ale/sb3. Target: >= 2.5x.

    python scripts/bench_envs.py [--env ALE/Breakout-v5] [--n-envs 8] [--steps 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from wnrl.envs import canonical_env_id, make_env

TARGET_RATIO = 2.5


def time_steps(env: VecEnv, actions: np.ndarray) -> float:
    """Env steps per second over ``len(actions)`` vector steps (auto-resets included)."""
    start = time.perf_counter()
    for action in actions:
        env.step(action)
    elapsed = time.perf_counter() - start
    return actions.size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="ALE/Breakout-v5", help="Atari id or game name")
    parser.add_argument("--n-envs", type=int, default=8, help="envs stepped together (8)")
    parser.add_argument("--steps", type=int, default=300, help="vector steps per round (300)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per backend (5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env_id = canonical_env_id(args.env)
    envs = {
        backend: make_env(env_id, args.n_envs, seed=args.seed, backend=backend)
        for backend in ("ale", "sb3")
    }
    n_actions = int(envs["ale"].action_space.n)
    rng = np.random.default_rng(args.seed)
    for env in envs.values():  # warm up: first reset, caches, thread start
        env.reset()
        time_steps(env, rng.integers(0, n_actions, size=(20, args.n_envs)))

    print(
        f"env {env_id}, {args.n_envs} envs, random actions, {args.steps} vector steps x "
        f"{args.rounds} rounds per backend, {os.cpu_count()} CPUs"
    )
    rates: dict[str, list[float]] = {"ale": [], "sb3": []}
    for round_ in range(1, args.rounds + 1):
        line = []
        for backend, env in envs.items():
            actions = rng.integers(0, n_actions, size=(args.steps, args.n_envs))
            rates[backend].append(time_steps(env, actions))
            line.append(f"{backend} {rates[backend][-1]:8,.0f}")
        print(f"round {round_}: " + "  ".join(line) + " env steps/s")
    for env in envs.values():
        env.close()

    medians = {backend: statistics.median(values) for backend, values in rates.items()}
    ratio = medians["ale"] / medians["sb3"]
    round_ratios = [a / s for a, s in zip(rates["ale"], rates["sb3"], strict=True)]
    print(f"median ale: {medians['ale']:,.0f} env steps/s")
    print(f"median sb3: {medians['sb3']:,.0f} env steps/s")
    print(
        f"ratio ale/sb3: {ratio:.2f}x (per round {min(round_ratios):.2f}x .. "
        f"{max(round_ratios):.2f}x; target >= {TARGET_RATIO}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
