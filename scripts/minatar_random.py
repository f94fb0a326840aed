"""What a uniformly random policy scores on each MinAtar game (not a test gate).

Plays ``--episodes`` whole games per env through wnrl's env factory (the ``-v1`` ids: minimal
action sets, sticky actions 0.1, the package's own time limits) with uniformly random actions,
and prints the mean score with its standard error. These are the random anchors that
``wnrl.analysis.reference_scores.MINATAR_RANDOM`` holds and that ``wnrl compare`` normalizes by.

    python scripts/minatar_random.py [--episodes 200] [--seed 0] [--envs minatar-breakout,...]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from wnrl.envs import make_env
from wnrl.envs.minatar import MINATAR_SHORT_NAMES


def random_scores(env: str, episodes: int, seed: int, n_envs: int = 8) -> list[float]:
    venv = make_env(env, n_envs=n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    scores: list[float] = []
    venv.reset()
    try:
        while len(scores) < episodes:
            actions = rng.integers(0, venv.action_space.n, size=n_envs)
            _, _, dones, infos = venv.step(actions)
            scores += [float(infos[i]["episode"]["r"]) for i in np.flatnonzero(dones)]
    finally:
        venv.close()
    return scores[:episodes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--envs", default=",".join(MINATAR_SHORT_NAMES))
    args = parser.parse_args()
    print(f"{'env':<24} {'episodes':>8} {'mean':>8} {'s.e.':>6}")
    for env in args.envs.split(","):
        scores = random_scores(env, args.episodes, args.seed)
        error = statistics.stdev(scores) / len(scores) ** 0.5
        print(f"{env:<24} {len(scores):>8} {statistics.fmean(scores):>8.2f} {error:>6.2f}")


if __name__ == "__main__":
    main()
