"""Benchmark: end-to-end training throughput (env steps/s) of wnrl vs plain SB3, side by side,
and where each variant's time goes.

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
MinAtar DQN variants (MinAtar Breakout, the ``minatar`` preset: one update per env step):
  sb3          DQN("MlpPolicy") with the MinAtar network as an SB3 features extractor and the
               preset's hyperparameters (``scripts/sb3_reference.py``'s job)
  wnrl-wn      the model ``wnrl train dqn minatar-breakout`` builds (its config, its float mode,
               its compiled optimizer step: the warm-up round compiles it)
  wnrl-none    the same with ``--norm none``
  wnrl-wn-eager  wnrl-wn with ``--compile-optimizer off`` (what the compiled step gains)

Each variant's time per env step is split into env (``VecEnv.step``), act (``predict``:
epsilon-greedy and the policy's forward), replay (``add`` and ``sample``), train (the gradient
steps, sampling excluded) and other (SB3's per-step Python: callbacks, logging, schedules),
measured by timing those calls of the variant's own objects.

    python scripts/bench_train.py [--algo dqn|ppo|minatar-dqn|all] [--rounds 4]
        [--round-steps 1000]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.base_class import BaseAlgorithm

from wnrl.envs import make_env
from wnrl.experiment.compiled_optimizer import compile_optimizers
from wnrl.experiment.config import build_config
from wnrl.experiment.float_mode import flushing_subnormals
from wnrl.experiment.train import make_model
from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sb3_reference  # noqa: E402  (the SB3 side of the jobs)

MINATAR_ENV = "minatar-breakout"
#: the parts of an env step the breakdown reports, in order
PARTS = ("env", "act", "replay", "train", "other")

#: RL Zoo's settings, with a replay buffer and learning start short enough for rounds to train
DQN_HP = {**sb3_reference.ATARI_DQN_HP, "buffer_size": 20_000, "learning_starts": 500}
PPO_HP = sb3_reference.ATARI_PPO_HP


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


def minatar_variants(device: str) -> dict[str, Callable[[], BaseAlgorithm]]:
    def wnrl(norm: str, compile_optimizer: str = "auto") -> Callable[[], BaseAlgorithm]:
        def make() -> BaseAlgorithm:
            config = build_config(
                "dqn", MINATAR_ENV, norm=norm, seed=0, device=device,
                compile_optimizer=compile_optimizer,
            )  # fmt: skip
            model = make_model(config, make_env(config["env"], n_envs=1, seed=0), device)
            model.flush_subnormals = config["flush_subnormals"]  # the run's float mode
            compile_optimizers(model, config)  # as the run would (the preset's 5M steps: auto)
            return model

        return make

    def sb3() -> BaseAlgorithm:  # the preset's 5M steps: epsilon over the first 2%
        return sb3_reference.minatar_dqn(steps=5_000_000, seed=0, logdir=None)

    return {
        "sb3": sb3,
        "wnrl-wn": wnrl("wn"),
        "wnrl-none": wnrl("none"),
        "wnrl-wn-eager": wnrl("wn", compile_optimizer="off"),
    }


class Breakdown:
    """Seconds spent in each part of a model's env steps (:data:`PARTS`), by timing calls of
    the model's own objects (its env, replay buffer, ``predict`` and ``train``)."""

    def __init__(self, model: BaseAlgorithm) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.total = 0.0
        self.steps = 0
        env = model.get_env()
        env.step = self._timed("env", env.step)  # type: ignore[method-assign]
        model.predict = self._timed("act", model.predict)  # type: ignore[method-assign]
        buffer = getattr(model, "replay_buffer", None)
        if buffer is not None:
            buffer.add = self._timed("replay", buffer.add)  # type: ignore[method-assign]
            buffer.sample = self._timed("replay", buffer.sample, inside="train")
        model.train = self._timed("train", model.train)  # type: ignore[method-assign]

    def _timed(self, part: str, call: Callable, inside: str | None = None) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                self.seconds[part] += spent
                if inside is not None:
                    self.seconds[inside] -= spent  # counted in ``part``, not twice

        return timed

    def reset(self) -> None:
        self.seconds.clear()
        self.total, self.steps = 0.0, 0

    def per_step(self) -> dict[str, float]:
        """Microseconds per env step of each part, ``other`` the rest of the round's time."""
        parts = {part: self.seconds.get(part, 0.0) for part in PARTS[:-1]}
        parts["other"] = self.total - sum(parts.values())
        return {part: 1e6 * seconds / max(self.steps, 1) for part, seconds in parts.items()}


def measure(
    variants: dict[str, Callable[[], BaseAlgorithm]], rounds: int, round_steps: int
) -> tuple[dict[str, list[float]], dict[str, Breakdown]]:
    models = {name: make() for name, make in variants.items()}
    breakdowns = {name: Breakdown(model) for name, model in models.items()}
    rates: dict[str, list[float]] = {name: [] for name in models}
    for index in range(rounds + 1):
        for name, model in models.items():
            flush = getattr(model, "flush_subnormals", None)
            mode = flushing_subnormals(flush) if flush is not None else contextlib.nullcontext()
            start_steps = model.num_timesteps
            # the warm-up round goes past learning_starts, so that every measured round trains
            length = round_steps + (getattr(model, "learning_starts", 0) if index == 0 else 0)
            with mode:
                start = time.perf_counter()
                model.learn(length, reset_num_timesteps=False)
                seconds = time.perf_counter() - start
            steps = model.num_timesteps - start_steps
            if index == 0:  # warm-up: learning starts, buffers fill
                breakdowns[name].reset()
                continue
            rates[name].append(steps / seconds)
            breakdowns[name].total += seconds
            breakdowns[name].steps += steps
    for model in models.values():
        model.get_env().close()
    return rates, breakdowns


def report(
    title: str,
    measured: tuple[dict[str, list[float]], dict[str, Breakdown]],
    pairs: list[tuple[str, str, str]],
) -> None:
    rates, breakdowns = measured
    print(title)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, values in rates.items():
        rounds = " ".join(f"{v:7.1f}" for v in values)
        print(f"  {name:<13} median {medians[name]:8.1f} steps/s   rounds: {rounds}")
    print(f"  microseconds per env step: {'  '.join(f'{part:>6}' for part in PARTS)}")
    for name, breakdown in breakdowns.items():
        parts = breakdown.per_step()
        print(f"  {name:<13} {'  '.join(f'{parts[part]:6.0f}' for part in PARTS)}")
    for a, b, meaning in pairs:
        # a round's variants ran back to back: the median of per-round ratios cancels slow spells
        per_round = [x / y for x, y in zip(rates[a], rates[b], strict=True)]
        spread = f"{min(per_round):.2f}..{max(per_round):.2f}"
        ratio = statistics.median(per_round)
        print(f"  {a} / {b}: {ratio:.3f}x (per round {spread})  {meaning}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", choices=("dqn", "ppo", "minatar-dqn", "all"), default="all")
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
    if args.algo in ("minatar-dqn", "all"):
        measured = measure(minatar_variants(device), args.rounds, args.round_steps)
        report(
            f"DQN on {MINATAR_ENV} (minatar preset), {args.round_steps} steps per round",
            measured,
            [
                ("wnrl-wn", "sb3", "wnrl (WN) vs SB3, same network [goal >= 2.0]"),
                ("wnrl-wn", "wnrl-none", "price of weight norm [goal >= 0.97]"),
                ("wnrl-wn", "wnrl-wn-eager", "the compiled optimizer step"),
            ],
        )
    if args.algo in ("dqn", "all"):
        measured = measure(dqn_variants(args.env, device), args.rounds, args.round_steps)
        report(
            f"DQN on {args.env}, 1 env, {args.round_steps} steps per round",
            measured,
            [
                ("wnrl-wn", "sb3", "wnrl (WN) vs plain SB3 [target >= 1.10]"),
                ("sb3+wnpolicy", "sb3", "WNDQNPolicy vs CnnPolicy, same SB3 env"),
                ("wnrl-wn", "wnrl-none", "price of weight norm [target <= 1.03 slower]"),
            ],
        )
    if args.algo in ("ppo", "all"):
        measured = measure(ppo_variants(args.env, device), args.rounds, args.ppo_round_steps)
        report(
            f"PPO on {args.env}, 8 envs, {args.ppo_round_steps} steps per round",
            measured,
            [("wnrl-wn", "sb3", "wnrl (WN) vs plain SB3 [target >= 1.5]")],
        )


if __name__ == "__main__":
    main()
