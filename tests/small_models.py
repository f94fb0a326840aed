"""Small SB3 models with wnrl policies, cheap to build and to train a few steps (test helpers)."""

from __future__ import annotations

import torch
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from torch import nn

from wnrl.names import NORMS, REFUSED_NORMS
from wnrl.policies import WN_POLICIES

DISCRETE = {"dqn": DQN, "qrdqn": QRDQN, "ppo": PPO, "a2c": A2C}
CONTINUOUS = {"sac": SAC, "td3": TD3}
ALGOS = {**DISCRETE, **CONTINUOUS}
SMALL = {"net_arch": [16, 16]}


def small_kwargs(algo: str) -> dict:
    """Hyperparameters that make a model cheap to build and to train for a few steps."""
    if algo in ("dqn", "qrdqn"):
        return {"learning_starts": 16, "batch_size": 8, "buffer_size": 500}
    if algo in ("sac", "td3"):
        return {"learning_starts": 16, "batch_size": 8, "buffer_size": 500}
    if algo == "ppo":
        return {"n_steps": 16, "batch_size": 8, "n_epochs": 1}
    return {"n_steps": 8}


def env_id(algo: str) -> str:
    return "Pendulum-v1" if algo in CONTINUOUS else "CartPole-v1"


def build(algo: str, policy=None, env=None, **policy_kwargs):
    kwargs = {**SMALL, **policy_kwargs}
    return ALGOS[algo](
        policy or WN_POLICIES[algo],
        env or env_id(algo),
        seed=0,
        device="cpu",
        policy_kwargs=kwargs,
        **small_kwargs(algo),
    )


def structure(module: nn.Module) -> list[tuple[str, type]]:
    return [(name, type(m)) for name, m in module.named_modules()]


def optimizers_of(policy: nn.Module) -> list[torch.optim.Optimizer]:
    """Every distinct optimizer a policy or its networks hold (SAC/TD3: actor and critic)."""
    found = {id(m.optimizer): m.optimizer for m in policy.modules() if hasattr(m, "optimizer")}
    return list(found.values())


def offered(algos) -> list[tuple[str, str]]:
    """Every (agent, norm) pair of ``algos`` x NORMS that the agent takes (not in
    :data:`wnrl.names.REFUSED_NORMS`): a test's parametrization over algorithms and norms."""
    return [
        (algo, norm) for algo in algos for norm in NORMS if norm not in REFUSED_NORMS.get(algo, ())
    ]
