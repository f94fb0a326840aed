"""Benchmark: end-to-end training throughput (env steps/s) of wnrl vs plain SB3, side by side.

Every variant is a real SB3 algorithm training on the same game with the same hyperparameters;
rounds alternate between the variants (A B C A B C ...), each round continuing the variant's own
training for ``--round-steps`` environment steps, so drifts in machine speed hit all alike. The
first round of each variant is warm-up (learning starts, buffers fill) and is not counted.

DQN variants (1 env, RL Zoo's Atari settings but ``learning_starts`` short so rounds train):
  sb3          DQN("CnnPolicy") on SB3's make_atari_env + VecFrameStack pipeline (the reference)
  sb3+wnpolicy DQN(WNDQNPolicy, norm="wn") on that same SB3 pipeline (the policy's own cost)
  wnrl-wn      DQN(WNDQNPolicy, norm="wn") on wnrl's default env backend (ale-py vector env)
  wnrl-none    DQN(WNDQNPolicy, norm="none") on wnrl's backend (the price of weight norm)
PPO variants (8 envs, RL Zoo's Atari settings): sb3, wnrl-wn.

    python scripts/bench_train.py [--algo dqn|ppo|both] [--rounds 4] [--round-steps 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import LinearSchedule

from wnrl.envs import make_env
from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy

DQN_HP = dict(
    buffer_size=20_000,
    learning_rate=1e-4,
    batch_size=32,
    learning_starts=500,
    target_update_interval=1000,
    train_freq=4,
    gradient_steps=1,
    exploration_fraction=0.1,
    exploration_final_eps=0.01,
)
PPO_HP = dict(
    n_steps=128,
    n_epochs=4,
    batch_size=256,
    learning_rate=LinearSchedule(2.5e-4, 0.0, 1.0),
    clip_range=LinearSchedule(0.1, 0.0, 1.0),
    vf_coef=0.5,
    ent_coef=0.01,
)


def _builder(
    algorithm: type[BaseAlgorithm], n_envs: int, hp: dict, env_id: str, device: str
) -> Callable[..., Callable[[], BaseAlgorithm]]:
    """``build(policy, backend, norm)``: a factory of one variant (norm None: SB3's policy)."""

    def build(policy, backend: str, norm: str | None) -> Callable[[], BaseAlgorithm]:
        def make() -> BaseAlgorithm:
            env = make_env(env_id, n_envs=n_envs, seed=0, backend=backend)
            kwargs = {"policy_kwargs": {"norm": norm}} if norm else {}
            return algorithm(policy, env, seed=0, device=device, **kwargs, **hp)

        return make

    return build


def dqn_variants(env_id: str, device: str) -> dict[str, Callable[[], BaseAlgorithm]]:
    build = _builder(DQN, 1, DQN_HP, env_id, device)
    return {
        "sb3": build("CnnPolicy", "sb3", None),
        "sb3+wnpolicy": build(WNDQNPolicy, "sb3", "wn"),
        "wnrl-wn": build(WNDQNPolicy, "auto", "wn"),
        "wnrl-none": build(WNDQNPolicy, "auto", "none"),
    }


def ppo_variants(env_id: str, device: str) -> dict[str, Callable[[], BaseAlgorithm]]:
    build = _builder(PPO, 8, PPO_HP, env_id, device)
    return {
        "sb3": build("CnnPolicy", "sb3", None),
        "wnrl-wn": build(WNActorCriticPolicy, "auto", "wn"),
    }


def measure(
    variants: dict[str, Callable[[], BaseAlgorithm]], rounds: int, round_steps: int
) -> dict[str, list[float]]:
    models = {name: make() for name, make in variants.items()}
    rates: dict[str, list[float]] = {name: [] for name in models}
    for index in range(rounds + 1):
        for name, model in models.items():
            start_steps = model.num_timesteps
            start = time.perf_counter()
            model.learn(round_steps, reset_num_timesteps=False)
            rate = (model.num_timesteps - start_steps) / (time.perf_counter() - start)
            if index > 0:
                rates[name].append(rate)
    for model in models.values():
        model.get_env().close()
    return rates


def report(title: str, rates: dict[str, list[float]], pairs: list[tuple[str, str, str]]) -> None:
    print(title)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        rounds = " ".join(f"{v:7.1f}" for v in values)
        print(f"  {name:<13} median {medians[name]:8.1f} steps/s   rounds: {rounds}")
    for a, b, meaning in pairs:
        # a round's variants ran back to back: the median of per-round ratios cancels slow spells
        per_round = [x / y for x, y in zip(rates[a], rates[b], strict=True)]
        spread = f"{min(per_round):.2f}..{max(per_round):.2f}"
        ratio = statistics.median(per_round)
        print(f"  {a} / {b}: {ratio:.3f}x (per round {spread})  {meaning}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("dqn", "ppo", "both"), default="both")
    parser.add_argument("--env", default="ALE/Breakout-v5")
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds per variant")
    parser.add_argument("--round-steps", type=int, default=1000, help="DQN env steps per round")
    parser.add_argument("--ppo-round-steps", type=int, default=2048, help="PPO env steps per round")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    if args.algo in ("dqn", "both"):
        rates = measure(dqn_variants(args.env, device), args.rounds, args.round_steps)
        report(
            f"DQN on {args.env}, 1 env, {args.round_steps} steps per round",
            rates,
            [
                ("wnrl-wn", "sb3", "wnrl (WN) vs plain SB3 [target >= 1.10]"),
                ("sb3+wnpolicy", "sb3", "WNDQNPolicy vs CnnPolicy, same SB3 env"),
                ("wnrl-wn", "wnrl-none", "price of weight norm [target <= 1.03 slower]"),
            ],
        )
    if args.algo in ("ppo", "both"):
        rates = measure(ppo_variants(args.env, device), args.rounds, args.ppo_round_steps)
        report(
            f"PPO on {args.env}, 8 envs, {args.ppo_round_steps} steps per round",
            rates,
            [("wnrl-wn", "sb3", "wnrl (WN) vs plain SB3 [target >= 1.5]")],
        )


if __name__ == "__main__":
    main()
