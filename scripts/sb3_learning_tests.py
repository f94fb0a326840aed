"""SB3's own learning tests with wnrl's policy classes in place of SB3's, side by side.

SB3's test suite has tests that train to a threshold: ``tests/test_identity.py``
(``test_discrete``: A2C, PPO and DQN on the identity envs, 1,200 steps, gamma 0.4, lr 0.002,
seed 3; ``test_continuous``: A2C, PPO, SAC and TD3 on ``IdentityEnvBox``; each must average 90
over 20 evaluation episodes) and ``tests/test_her.py`` (``test_performance_her``: DQN with HER on
``BitFlippingEnv(10)`` with a ``Dict`` observation, 1,500 steps, training success above 0.9).
These are the same settings and thresholds, written here (SB3's code is not copied), each run
with SB3's class (``"MlpPolicy"`` / ``"MultiInputPolicy"``) and with wnrl's at its defaults
(``"WNMlpPolicy"`` / ``"WNMultiInputPolicy"``: weight norm, plain heads), on SB3's seed and on
others. It prints every score, whatever it is; ``tests/sb3/test_sb3_learning_tests.py`` holds
wnrl's classes to each case SB3's pass.

    OMP_NUM_THREADS=1 python scripts/sb3_learning_tests.py [--seeds 3] [--cases all]
        [--wnrl-kwargs '{norm: none}']
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import yaml
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3, HerReplayBuffer
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import (
    BitFlippingEnv,
    IdentityEnv,
    IdentityEnvBox,
    IdentityEnvMultiBinary,
    IdentityEnvMultiDiscrete,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import DummyVecEnv

import wnrl  # noqa: F401  (registers the "WN..." policy names)

DIM = 4
#: SB3's pass marks: mean evaluation reward (identity envs), training success rate (HER)
REWARD_THRESHOLD = 90.0
SUCCESS_THRESHOLD = 0.90


@dataclass(frozen=True)
class Case:
    """One of SB3's learning tests: how to build the model, how long to train, how to score."""

    name: str
    algorithm: type[BaseAlgorithm]
    make_env: Callable[[], Any]
    steps: int
    sb3_seed: int
    kwargs: dict[str, Any] = field(default_factory=dict)
    policy: str = "MlpPolicy"
    her: bool = False
    #: keyword arguments made anew for each model (action noise keeps state)
    fresh: dict[str, Callable[[], Any]] = field(default_factory=dict)

    def build(
        self, wnrl_policy: bool, seed: int, wnrl_kwargs: dict[str, Any] | None = None
    ) -> BaseAlgorithm:
        """The case's model with SB3's policy class or wnrl's (with ``wnrl_kwargs`` added to
        its policy_kwargs: an ablation)."""
        policy = f"WN{self.policy}" if wnrl_policy else self.policy
        kwargs = copy.deepcopy(self.kwargs)  # SB3 writes into policy_kwargs (SAC: use_sde)
        kwargs.update({key: make() for key, make in self.fresh.items()})
        if wnrl_policy and wnrl_kwargs:
            kwargs["policy_kwargs"] = {**kwargs.get("policy_kwargs", {}), **wnrl_kwargs}
        return self.algorithm(policy, self.make_env(), seed=seed, **kwargs)

    def score(self, model: BaseAlgorithm) -> float:
        if self.her:
            return float(np.mean(model.ep_success_buffer))
        mean, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=20, warn=False)
        return float(mean)

    def passes(self, score: float) -> bool:
        return score > SUCCESS_THRESHOLD if self.her else score >= REWARD_THRESHOLD


def _vec(make: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: DummyVecEnv([make])


def _td3_noise() -> NormalActionNoise:
    return NormalActionNoise(mean=np.zeros(1), sigma=0.1 * np.ones(1))


_DISCRETE = dict(gamma=0.4, learning_rate=0.002)
_CONTINUOUS = dict(gamma=0.95, learning_rate=1e-3, policy_kwargs=dict(net_arch=[64, 64]))
_PPO = dict(n_epochs=4, n_steps=256)
_IDENTITY = {
    "identity": lambda: IdentityEnv(DIM),
    "multidiscrete": lambda: IdentityEnvMultiDiscrete(DIM),
    "multibinary": lambda: IdentityEnvMultiBinary(DIM),
}

CASES: tuple[Case, ...] = (
    *(
        Case(f"{algo.__name__.lower()}-{env}", algo, _vec(make), 1_200, 3, {**_DISCRETE, **extra})
        for algo, extra in ((A2C, {}), (PPO, _PPO), (DQN, {"learning_starts": 0}))
        for env, make in _IDENTITY.items()
        if algo is not DQN or env == "identity"
    ),
    Case("a2c-box", A2C, lambda: IdentityEnvBox(eps=0.5), 2_000, 0,
         {**_CONTINUOUS, "policy_kwargs": dict(net_arch=[64, 64], log_std_init=-0.5)}),
    Case("ppo-box", PPO, lambda: IdentityEnvBox(eps=0.5), 1_000, 0,
         {"learning_rate": 1e-3, **_PPO}),
    Case("sac-box", SAC, lambda: IdentityEnvBox(eps=0.5), 400, 0, _CONTINUOUS),
    Case("td3-box", TD3, lambda: IdentityEnvBox(eps=0.5), 400, 0, _CONTINUOUS,
         fresh={"action_noise": _td3_noise}),
    Case(
        "dqn-her-bitflip", DQN,
        lambda: make_vec_env(lambda: BitFlippingEnv(n_bits=10, continuous=False), 2), 1_500, 0,
        dict(
            replay_buffer_class=HerReplayBuffer,
            replay_buffer_kwargs=dict(n_sampled_goal=5, goal_selection_strategy="future"),
            learning_rate=2e-3, train_freq=1, gradient_steps=2, learning_starts=20,
            exploration_final_eps=0.02, target_update_interval=100, batch_size=32,
            buffer_size=100_000, stats_window_size=50,
        ),
        policy="MultiInputPolicy", her=True,
    ),
)  # fmt: skip


def run(
    case: Case, wnrl_policy: bool, seed: int, wnrl_kwargs: dict[str, Any] | None = None
) -> float:
    """Train ``case`` with SB3's or wnrl's policy class from ``seed``; its score."""
    model = case.build(wnrl_policy, seed, wnrl_kwargs)
    model.learn(case.steps)
    return case.score(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="SB3's seed and this many others")
    parser.add_argument("--cases", default="all", help="comma list of case names")
    parser.add_argument(
        "--wnrl-kwargs", default="{}", help="YAML mapping added to wnrl's policy_kwargs, e.g. "
        "'{norm: none}' or '{gain_lr_scale: 0}' (an ablation)",
    )  # fmt: skip
    args = parser.parse_args()
    wnrl_kwargs = yaml.safe_load(args.wnrl_kwargs) or {}
    torch.set_num_threads(1)
    chosen = [c for c in CASES if args.cases == "all" or c.name in args.cases.split(",")]
    print(f"SB3's learning tests; pass marks: mean reward >= {REWARD_THRESHOLD:g} over 20 "
          f"episodes, HER training success > {SUCCESS_THRESHOLD:g}")  # fmt: skip
    print(f"wnrl's policy_kwargs added: {wnrl_kwargs}" if wnrl_kwargs else "wnrl's defaults")
    print(f"{'case':<22} {'seed':>4}  {'SB3 class':>12}  {'wnrl class':>12}")
    for case in chosen:
        seeds = [case.sb3_seed] + [s for s in range(args.seeds + 1) if s != case.sb3_seed]
        for seed in seeds[: args.seeds + 1]:
            cells = []
            for wnrl_policy in (False, True):
                score = run(case, wnrl_policy, seed, wnrl_kwargs)
                cells.append(f"{score:7.2f} {'pass' if case.passes(score) else 'FAIL'}")
            mark = " (SB3's seed)" if seed == case.sb3_seed else ""
            print(f"{case.name:<22} {seed:>4}  {cells[0]:>12}  {cells[1]:>12}{mark}", flush=True)


if __name__ == "__main__":
    main()
