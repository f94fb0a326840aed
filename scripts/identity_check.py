"""Do PPO and A2C learn SB3's identity envs with each norm? (not a test gate)

SB3 checks that an algorithm learns at all on its identity envs (the action that scores is the
observation): ``tests/test_identity.py`` trains 10,000 steps with ``gamma=0.4`` and asks for a
mean reward of 90 over 20 episodes. This runs the same settings with wnrl's actor-critic policy
for each norm, with and without the data-dependent init (the ablation switch), and prints the
mean evaluation reward per seed, whatever it is.

    python scripts/identity_check.py [--algos ppo,a2c] [--envs multibinary,box]
                                     [--norms none,wn] [--ddi on,off] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv

from wnrl.callbacks import DataDependentInit
from wnrl.policies import WNActorCriticPolicy

ALGOS = {"ppo": PPO, "a2c": A2C}
ENVS = {
    "discrete": lambda: IdentityEnv(4),
    "multibinary": lambda: IdentityEnvMultiBinary(4),
    "box": lambda: IdentityEnvBox(eps=0.5),
}
THRESHOLD = 90.0


def run(algo: str, env_name: str, norm: str, ddi: bool, seed: int, steps: int) -> float:
    env = DummyVecEnv([ENVS[env_name]])
    model = ALGOS[algo](
        WNActorCriticPolicy, env, gamma=0.4, seed=seed, policy_kwargs={"norm": norm}
    )
    model.learn(steps, callback=[DataDependentInit()] if ddi else None)
    mean, _ = evaluate_policy(model, env, n_eval_episodes=20, warn=False)
    return float(mean)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algos", default="ppo,a2c")
    parser.add_argument("--envs", default="multibinary,box")
    parser.add_argument("--norms", default="none,wn")
    parser.add_argument("--ddi", default="on,off", help="with and/or without the init")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"SB3 identity settings: {args.steps:,} steps, gamma 0.4, 20 evaluation episodes, "
          f"threshold {THRESHOLD:g}")  # fmt: skip
    print(f"{'algo':<5} {'env':<12} {'norm':<8} {'ddi':<4} {'mean':>6}  per seed")
    for algo in args.algos.split(","):
        for env_name in args.envs.split(","):
            for norm in args.norms.split(","):
                for ddi in args.ddi.split(","):
                    if norm == "none" and ddi == "on":
                        continue  # the init is for the WN norms (wnrl train's default)
                    started = time.time()
                    scores = [
                        run(algo, env_name, norm, ddi == "on", seed, args.steps)
                        for seed in range(args.seeds)
                    ]
                    mean = statistics.mean(scores)
                    below = "" if mean >= THRESHOLD else "  below"
                    print(f"{algo:<5} {env_name:<12} {norm:<8} {ddi:<4} {mean:>6.1f}  "
                          f"{' '.join(f'{s:.1f}' for s in scores)}"
                          f"{below}  ({time.time() - started:.0f} s)",
                          flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
