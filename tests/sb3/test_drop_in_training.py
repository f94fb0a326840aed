"""A wnrl policy trains wherever SB3's does: bounded memory over long runs, every optimizer
class, and an on-policy first update that uses the initialized policy, for every action space."""

from __future__ import annotations

import gc

import gymnasium as gym
import numpy as np
import pytest
import torch
from small_models import ALGOS, SMALL, build, env_id, small_kwargs
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from torch import nn

import wnrl  # noqa: F401  (registers the string names)
from wnrl.callbacks import DataDependentInit
from wnrl.layers import WeightNormLinear
from wnrl.policies import WN_POLICIES

# --- 1. memory stays bounded over a long run ---------------------------------------------


def per_parameter_state(model) -> int:
    """Entries of every per-module / per-parameter / per-optimizer dict of the policy: what a
    cache or hook could grow."""
    policy = model.policy
    size = 0
    for module in policy.modules():
        size += len(module.__dict__) + len(module._forward_hooks) + len(module._forward_pre_hooks)
        size += sum(1 for _ in module._parameters) + sum(1 for _ in module._buffers)
    size += sum(len(p.__dict__) for p in policy.parameters())
    for optimizer in {
        id(m.optimizer): m.optimizer for m in policy.modules() if hasattr(m, "optimizer")
    }.values():
        size += len(optimizer._optimizer_step_post_hooks) + len(optimizer._optimizer_step_pre_hooks)
    return size


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


@pytest.mark.slow
@pytest.mark.parametrize(
    "algo,extra",
    [
        ("sac", {"tau": 0.5}),  # a polyak update through .data every step
        ("dqn", {"target_update_interval": 1, "train_freq": 1}),  # a hard update every step
    ],
)
def test_no_state_grows_over_a_long_run(algo: str, extra: dict) -> None:
    model = ALGOS[algo](
        WN_POLICIES[algo],
        env_id(algo),
        seed=0,
        device="cpu",
        policy_kwargs=dict(SMALL),
        **{**small_kwargs(algo), "buffer_size": 5_000},
        **extra,
    )
    n = 150
    model.learn(n)
    state, objects = per_parameter_state(model), live_objects()
    model.learn(9 * n, reset_num_timesteps=False)  # 10N steps in all
    assert per_parameter_state(model) == state
    # a leak of ~35 objects per SAC step (a dead .data alias per write) would be ~47,000 here
    assert live_objects() - objects < 1_500


# --- 2. every optimizer class --------------------------------------------------------------


class ScaledSGD(torch.optim.SGD):
    """A user's own optimizer with a setting of its own in every parameter group."""

    def __init__(self, params, lr: float, trust: float = 0.5, **kwargs) -> None:
        super().__init__(params, lr=lr, **kwargs)
        for group in self.param_groups:
            group["trust"] = trust


OPTIMIZERS = [
    (torch.optim.AdamW, {}),
    (torch.optim.AdamW, {"weight_decay": 0.123}),
    (torch.optim.Adam, {"fused": False, "weight_decay": 0.05}),
    (torch.optim.SGD, {"momentum": 0.9}),
    (torch.optim.RMSprop, {"alpha": 0.95}),
    (torch.optim.Adagrad, {}),
    (torch.optim.NAdam, {}),
    (RMSpropTFLike, {"alpha": 0.99, "eps": 1e-5}),
    (ScaledSGD, {"trust": 0.25}),
]


def optimizers_of(policy) -> list[tuple[torch.optim.Optimizer, list[nn.Parameter]]]:
    """Each optimizer of a policy and the parameters SB3 meant it to train."""
    if hasattr(policy, "q_net"):
        return [(policy.optimizer, list(policy.q_net.parameters()))]
    if hasattr(policy, "quantile_net"):
        return [(policy.optimizer, list(policy.quantile_net.parameters()))]
    if hasattr(policy, "actor"):
        extractor = {id(p) for p in policy.critic.features_extractor.parameters()}
        critic = [p for p in policy.critic.parameters() if id(p) not in extractor]
        return [
            (policy.actor.optimizer, list(policy.actor.parameters())),
            (policy.critic.optimizer, critic),
        ]
    return [(policy.optimizer, list(policy.parameters()))]


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize(
    "optimizer_class,optimizer_kwargs", OPTIMIZERS, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_every_optimizer_class_holds_the_wn_parameters_with_its_settings(
    algo, optimizer_class, optimizer_kwargs
) -> None:
    model = build(
        algo, optimizer_class=optimizer_class, optimizer_kwargs=dict(optimizer_kwargs), norm="wn"
    )
    for optimizer, params in optimizers_of(model.policy):
        assert type(optimizer) is optimizer_class
        held = [p for group in optimizer.param_groups for p in group["params"]]
        assert {id(p) for p in held} == {id(p) for p in params}  # the WN parameters, all
        assert any(isinstance(m, WeightNormLinear) for m in model.policy.modules())
        for group in optimizer.param_groups:
            for key, value in optimizer_kwargs.items():
                if key != "fused":
                    assert group[key] == value, (key, group[key])
            if optimizer_class is ScaledSGD:
                assert group["trust"] == 0.25


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize(
    "optimizer_class,optimizer_kwargs", OPTIMIZERS, ids=lambda x: getattr(x, "__name__", str(x))
)
def test_every_optimizer_class_moves_the_parameters_in_training(
    algo, optimizer_class, optimizer_kwargs
) -> None:
    model = build(
        algo, optimizer_class=optimizer_class, optimizer_kwargs=dict(optimizer_kwargs), norm="wn"
    )
    before = [p.detach().clone() for _, params in optimizers_of(model.policy) for p in params]
    model.learn(48)
    after = [p.detach() for _, params in optimizers_of(model.policy) for p in params]
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


# --- 7. the first on-policy update uses the initialized policy ----------------------------


class CaptureRollout(BaseCallback):
    """At the end of the first rollout (after DataDependentInit, which runs before it in the
    list), what the buffer holds and what the initialized policy says about it."""

    def __init__(self) -> None:
        super().__init__()
        self.captured: dict | None = None
        self.truncated: list[tuple[int, int, np.ndarray]] = []

    def _on_step(self) -> bool:
        if self.captured is None:
            for env, (done, info) in enumerate(
                zip(self.locals["dones"], self.locals["infos"], strict=True)
            ):
                if done and info.get("TimeLimit.truncated", False):
                    step = self.model.rollout_buffer.pos
                    self.truncated.append((step, env, info["terminal_observation"]))
        return True

    @torch.no_grad()
    def _on_rollout_end(self) -> None:
        if self.captured is not None:
            return
        buffer, policy = self.model.rollout_buffer, self.model.policy
        policy.set_training_mode(False)
        n = buffer.buffer_size * buffer.n_envs
        obs = torch.as_tensor(buffer.observations.reshape(n, -1))
        actions = torch.as_tensor(buffer.actions.reshape(n)).long()
        values, log_probs, _ = policy.evaluate_actions(obs, actions)
        bootstrap = [
            float(policy.predict_values(policy.obs_to_tensor(term)[0])[0])
            for _, _, term in self.truncated
        ]
        self.captured = {
            "values": (buffer.values.copy(), values.numpy().reshape(buffer.values.shape)),
            "log_probs": (buffer.log_probs.copy(), log_probs.numpy().reshape(buffer.values.shape)),
            "rewards": [float(buffer.rewards[step, env]) for step, env, _ in self.truncated],
            "bootstrap": bootstrap,
            "advantages": buffer.advantages.copy(),
            "returns": buffer.returns.copy(),
            "last_values": policy.predict_values(torch.as_tensor(self.locals["new_obs"])),
            "all_rewards": buffer.rewards.copy(),
            "episode_starts": buffer.episode_starts.copy(),
            "dones": self.locals["dones"].copy(),
        }


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_first_on_policy_update_uses_the_initialized_policy(algo: str) -> None:
    env = lambda: gym.make("CartPole-v1", max_episode_steps=12)  # noqa: E731  truncations
    from stable_baselines3.common.env_util import make_vec_env

    model = ALGOS[algo](
        WN_POLICIES[algo],
        make_vec_env(env, n_envs=2, seed=0),
        seed=0,
        n_steps=64,
        policy_kwargs=dict(SMALL),
        **({"batch_size": 32, "n_epochs": 1} if algo == "ppo" else {}),
    )
    ddi, capture = DataDependentInit(n_samples=64), CaptureRollout()
    model.learn(128, callback=CallbackList([ddi, capture]))
    assert ddi.done and capture.captured is not None
    got = capture.captured
    for key in ("values", "log_probs"):
        stored, recomputed = got[key]
        np.testing.assert_allclose(stored, recomputed, rtol=1e-5, atol=1e-6)
    assert capture.truncated, "the test env must truncate some episodes in the first rollout"
    # CartPole pays 1 per step; SB3 adds gamma V(terminal obs): with the initialized V
    expected = [1.0 + model.gamma * value for value in got["bootstrap"]]
    np.testing.assert_allclose(got["rewards"], expected, rtol=1e-5, atol=1e-5)
    # returns and advantages: SB3's GAE over the new values, bootstrapped with the new V
    buffer = type(model.rollout_buffer)(
        model.n_steps,
        model.observation_space,
        model.action_space,
        n_envs=2,
        gamma=model.gamma,
        gae_lambda=model.gae_lambda,
    )
    buffer.rewards[:] = got["all_rewards"]
    buffer.values[:] = got["values"][1]
    buffer.episode_starts[:] = got["episode_starts"]
    buffer.compute_returns_and_advantage(got["last_values"], got["dones"])
    np.testing.assert_allclose(got["advantages"], buffer.advantages, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["returns"], buffer.returns, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("env_name", ["multibinary", "box", "multidiscrete"])
def test_first_rollout_reevaluation_for_every_action_space(env_name: str) -> None:
    """The re-evaluation hands the stored actions to the policy as SB3's train() does (float32;
    long for Discrete), for every action space PPO takes."""
    from stable_baselines3.common.envs import (
        IdentityEnvBox,
        IdentityEnvMultiBinary,
        IdentityEnvMultiDiscrete,
    )

    make = {
        "multibinary": lambda: IdentityEnvMultiBinary(4),
        "box": lambda: IdentityEnvBox(eps=0.5),
        "multidiscrete": lambda: IdentityEnvMultiDiscrete(4),
    }[env_name]
    model = PPO(
        WN_POLICIES["ppo"], make(), seed=0, n_steps=64, batch_size=32, n_epochs=1,
        policy_kwargs=dict(SMALL),
    )  # fmt: skip
    ddi = DataDependentInit(n_samples=64)
    model.learn(64, callback=ddi)  # one rollout: the re-evaluated buffer is what train() used
    assert ddi.done
    buffer = model.rollout_buffer
    assert np.isfinite(buffer.log_probs).all() and np.isfinite(buffer.advantages).all()
