"""The wnrl SB3 policies: every algorithm x every norm built and trained on vector and real Atari
observations, SB3's own network under ``norm="none"``, target networks, optimizer kernels, and
a PPO run that learns."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation
from sb3_contrib import QRDQN
from small_models import offered
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import DummyVecEnv
from torch import nn

from wnrl.experiment.config import build_config
from wnrl.layers import MeanOnlyBatchNorm, WeightNormConv2d, WeightNormLinear
from wnrl.policies import (
    WNActorCriticPolicy,
    WNDQNPolicy,
    WNQRDQNPolicy,
    WNSACPolicy,
    WNTD3Policy,
)

ALGORITHMS = {
    "dqn": (DQN, WNDQNPolicy, "discrete"),
    "qrdqn": (QRDQN, WNQRDQNPolicy, "discrete"),
    "ppo": (PPO, WNActorCriticPolicy, "discrete"),
    "a2c": (A2C, WNActorCriticPolicy, "continuous"),
    "sac": (SAC, WNSACPolicy, "continuous"),
    "td3": (TD3, WNTD3Policy, "continuous"),
}
VECTOR_ENVS = {"discrete": "CartPole-v1", "continuous": "Pendulum-v1"}


def tiny_kwargs(algo: str, image: bool) -> dict:
    """Hyperparameters for a few hundred real training steps (a few dozen on images)."""
    if algo in ("ppo", "a2c"):
        kwargs = {"n_steps": 32 if image else 64}
        if algo == "ppo":
            kwargs.update(batch_size=32, n_epochs=1)
    else:
        kwargs = {"learning_starts": 32, "buffer_size": 2_000, "batch_size": 16, "train_freq": 4}
        if algo in ("dqn", "qrdqn"):
            kwargs["target_update_interval"] = 50
    kwargs["policy_kwargs"] = {"net_arch": [32, 32]}
    if algo == "qrdqn":
        kwargs["policy_kwargs"]["n_quantiles"] = 8
    if image:
        kwargs["policy_kwargs"]["features_extractor_kwargs"] = {"features_dim": 64}
    return kwargs


def continuous_atari() -> DummyVecEnv:
    """Breakout with ALE's continuous action space, standard preprocessing, 4 stacked frames."""

    def make() -> gym.Env:
        env = gym.make("ALE/Breakout-v5", continuous=True, frameskip=1)
        env = AtariPreprocessing(env, noop_max=0, frame_skip=4, terminal_on_life_loss=False)
        return Monitor(FrameStackObservation(env, 4))

    return DummyVecEnv([make])


def make_vec(kind: str, image: bool):
    if not image:
        return VECTOR_ENVS[kind]
    if kind == "continuous":
        return continuous_atari()
    from wnrl.envs.factory import make_env

    return make_env("ALE/Breakout-v5", n_envs=1, seed=0)


def plain_layers(module: nn.Module) -> list[str]:
    return [n for n, m in module.named_modules() if type(m) in (nn.Linear, nn.Conv2d)]


def check_structure(policy: nn.Module, norm: str) -> None:
    wn = [m for m in policy.modules() if isinstance(m, (WeightNormLinear, WeightNormConv2d))]
    extra = {
        "ln": (nn.LayerNorm, nn.GroupNorm),
        "bn": (nn.BatchNorm1d, nn.BatchNorm2d),
        "wn+mobn": (MeanOnlyBatchNorm,),
    }.get(norm, ())
    inserted = [m for m in policy.modules() if extra and isinstance(m, extra)]
    if norm in ("wn", "wn+mobn", "wn+proj"):
        # every hidden layer weight-normalized; the output heads plain (the default)
        heads = {id(head) for head in policy.output_heads()}
        plain = {id(m) for m in policy.modules() if type(m) in (nn.Linear, nn.Conv2d)}
        assert wn and heads and plain == heads, plain_layers(policy)
    else:
        assert not wn and plain_layers(policy)
    if norm in ("ln", "bn", "wn+mobn"):
        assert inserted
        heads = policy.output_heads()
        for head in heads:  # never a normalization layer after an output head
            for parent in policy.modules():
                children = list(parent.children())
                if head in children and isinstance(parent, nn.Sequential):
                    index = children.index(head)
                    assert index == len(children) - 1 or not isinstance(children[index + 1], extra)
    else:
        assert not inserted


def optimizers(model) -> list[torch.optim.Optimizer]:
    policy = model.policy
    if hasattr(policy, "optimizer"):
        return [policy.optimizer]
    return [policy.actor.optimizer, policy.critic.optimizer]


def check_optimizers(model) -> None:
    """The optimizers hold the new parameters, the same sets SB3's own _build would give."""
    policy = model.policy
    held = [{id(p) for g in opt.param_groups for p in g["params"]} for opt in optimizers(model)]
    if isinstance(policy, WNDQNPolicy):
        expected = [{id(p) for p in policy.q_net.parameters()}]
    elif isinstance(policy, WNQRDQNPolicy):
        expected = [{id(p) for p in policy.quantile_net.parameters()}]
    elif isinstance(policy, WNActorCriticPolicy):
        expected = [{id(p) for p in policy.parameters()}]
    else:
        critic = {
            id(p)
            for name, p in policy.critic.named_parameters()
            if not (policy.share_features_extractor and "features_extractor" in name)
        }
        expected = [{id(p) for p in policy.actor.parameters()}, critic]
    assert held == expected


@pytest.mark.parametrize("algo,norm", offered(ALGORITHMS))
def test_every_algorithm_and_norm_builds_its_networks_and_optimizers(algo: str, norm: str) -> None:
    cls, policy_cls, kind = ALGORITHMS[algo]
    kwargs = tiny_kwargs(algo, image=False)
    kwargs["policy_kwargs"]["norm"] = norm
    model = cls(policy_cls, make_vec(kind, False), seed=0, device="cpu", **kwargs)
    assert type(model.policy) is policy_cls and model.policy.norm == norm
    check_structure(model.policy, norm)
    check_optimizers(model)


@pytest.mark.slow
@pytest.mark.parametrize("algo,norm", offered(ALGORITHMS))
def test_every_algorithm_and_norm_trains_on_vector_observations_and_updates_every_network(
    algo: str, norm: str
) -> None:
    """300 real steps: every optimizer (SAC, TD3: the actor's and the critic's) moved some of
    its parameters, and every parameter is finite. Moving is not learning: the learning
    check is ``scripts/learning_check.py`` and the identity test below."""
    cls, policy_cls, kind = ALGORITHMS[algo]
    kwargs = tiny_kwargs(algo, image=False)
    kwargs["policy_kwargs"]["norm"] = norm
    model = cls(policy_cls, make_vec(kind, False), seed=0, device="cpu", **kwargs)
    held = [[p for g in opt.param_groups for p in g["params"]] for opt in optimizers(model)]
    before = [[p.detach().clone() for p in params] for params in held]
    model.learn(300)
    assert model.num_timesteps >= 300
    for params, old in zip(held, before, strict=True):
        assert any(not torch.equal(a, b) for a, b in zip(params, old, strict=True)), "no update"
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())


@pytest.mark.parametrize("algo,norm", offered(ALGORITHMS))
def test_every_algorithm_and_norm_builds_a_cnn_for_atari_frames(algo: str, norm: str) -> None:
    cls, policy_cls, kind = ALGORITHMS[algo]
    env = make_vec(kind, image=True)
    kwargs = tiny_kwargs(algo, image=True)
    kwargs["policy_kwargs"]["norm"] = norm
    model = cls(policy_cls, env, seed=0, device="cpu", **kwargs)
    extractors = [m for m in model.policy.modules() if isinstance(m, BaseFeaturesExtractor)]
    assert extractors and all(type(m) is NatureCNN for m in extractors)  # from the image space
    check_structure(model.policy, norm)
    convs = [m for m in model.policy.modules() if isinstance(m, (nn.Conv2d, WeightNormConv2d))]
    assert convs and (
        norm not in ("wn", "wn+mobn") or all(isinstance(m, WeightNormConv2d) for m in convs)
    )
    env.close()


@pytest.mark.slow
@pytest.mark.parametrize("algo,norm", offered(ALGORITHMS))
def test_every_algorithm_and_norm_trains_and_acts_on_atari_frames(algo: str, norm: str) -> None:
    cls, policy_cls, kind = ALGORITHMS[algo]
    env = make_vec(kind, image=True)
    kwargs = tiny_kwargs(algo, image=True)
    kwargs["policy_kwargs"]["norm"] = norm
    model = cls(policy_cls, env, seed=0, device="cpu", **kwargs)
    model.learn(64)
    assert model.num_timesteps >= 64
    actions, _ = model.predict(env.reset(), deterministic=True)
    assert actions.shape[0] == 1
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())
    env.close()


def test_bad_norm_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown norm 'weight'; choose one of wn, wn\\+mobn"):
        DQN(WNDQNPolicy, "CartPole-v1", policy_kwargs={"norm": "weight"})


@pytest.mark.parametrize(
    ("algo", "sb3_policy"), [("dqn", "MlpPolicy"), ("ppo", "MlpPolicy"), ("sac", "MlpPolicy")]
)
def test_norm_none_is_sb3s_own_network(algo: str, sb3_policy: str) -> None:
    """norm="none" builds exactly SB3's network: same parameters, same outputs, same seed."""
    cls, policy_cls, kind = ALGORITHMS[algo]
    env = VECTOR_ENVS[kind]
    ours = cls(policy_cls, env, seed=3, policy_kwargs={"norm": "none"}, device="cpu")
    theirs = cls(sb3_policy, env, seed=3, device="cpu")
    ours_sd, theirs_sd = ours.policy.state_dict(), theirs.policy.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key in ours_sd:
        torch.testing.assert_close(ours_sd[key], theirs_sd[key])
    # and "wn" computes the very same function at construction (the rewrite preserves it)
    wn = cls(policy_cls, env, seed=3, policy_kwargs={"norm": "wn"}, device="cpu")
    obs = np.stack([wn.observation_space.sample() for _ in range(8)])
    with torch.no_grad():
        ours_out = ours.policy.predict(obs, deterministic=True)[0]
        wn_out = wn.policy.predict(obs, deterministic=True)[0]
    np.testing.assert_allclose(ours_out, wn_out, rtol=1e-5, atol=1e-5)


def test_orthogonal_init_carries_over_to_weight_norm_layers() -> None:
    """SB3's ortho init (gain 0.01 on the action head) is the WN layers' starting weight."""
    plain = PPO(WNActorCriticPolicy, "CartPole-v1", seed=1, policy_kwargs={"norm": "none"})
    wn = PPO(
        WNActorCriticPolicy,
        "CartPole-v1",
        seed=1,
        policy_kwargs={"norm": "wn", "plain_heads": False},
    )
    head = wn.policy.action_net
    assert isinstance(head, WeightNormLinear)
    torch.testing.assert_close(head.weight.detach(), plain.policy.action_net.weight.detach())
    # rows of an orthogonal matrix (out <= in) have unit norm: g is SB3's gain
    torch.testing.assert_close(head.g.detach(), torch.full((2,), 0.01))
    torch.testing.assert_close(wn.policy.value_net.g.detach(), torch.ones(1))
    hidden = wn.policy.mlp_extractor.policy_net[2]  # 64x64: square, so unit-norm rows
    torch.testing.assert_close(
        hidden.g.detach(), torch.full((64,), np.sqrt(2), dtype=torch.float32)
    )


@pytest.mark.slow
def test_dqn_target_equals_online_after_sb3_target_update() -> None:
    model = DQN(WNDQNPolicy, "CartPole-v1", seed=0, learning_starts=0, target_update_interval=10**9)
    policy = model.policy
    obs = torch.as_tensor(np.stack([model.observation_space.sample() for _ in range(16)]))
    model.learn(200)  # the online net moves; the target is never updated
    with torch.no_grad():
        online, target = policy.q_net(obs), policy.q_net_target(obs)
    assert not torch.allclose(online, target)
    polyak_update(policy.q_net.parameters(), policy.q_net_target.parameters(), 1.0)
    with torch.no_grad():
        torch.testing.assert_close(policy.q_net_target(obs), policy.q_net(obs))


@pytest.mark.slow
def test_sac_soft_target_updates_are_seen_by_the_inference_cache() -> None:
    model = SAC(WNSACPolicy, "Pendulum-v1", seed=0, learning_starts=20, tau=0.5)
    policy = model.policy
    obs = torch.randn(8, 3)
    act = torch.rand(8, 1) * 2 - 1
    model.learn(100)  # every step: polyak_update through .data on the critic target
    with torch.no_grad():
        cached = policy.critic_target(obs, act)
        policy.critic_target.load_state_dict(policy.critic_target.state_dict())  # force rebuild
        for module in policy.critic_target.modules():
            if hasattr(module, "clear_cache"):
                module.clear_cache()
        fresh = policy.critic_target(obs, act)
    for a, b in zip(cached, fresh, strict=True):
        torch.testing.assert_close(a, b)


def test_optimizers_use_fused_or_foreach_kernels_unless_the_user_chose() -> None:
    model = DQN(WNDQNPolicy, "CartPole-v1")
    assert model.policy.optimizer.defaults["fused"] is True  # Adam: torch's fused kernel
    chosen = DQN(WNDQNPolicy, "CartPole-v1", policy_kwargs={"optimizer_kwargs": {"foreach": False}})
    assert chosen.policy.optimizer.defaults["foreach"] is False
    assert not chosen.policy.optimizer.defaults["fused"]
    adamax = DQN(WNDQNPolicy, "CartPole-v1", policy_kwargs={"optimizer_class": torch.optim.Adamax})
    assert adamax.policy.optimizer.defaults["foreach"] is True  # no fused Adamax in torch
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

    a2c = A2C(WNActorCriticPolicy, "CartPole-v1", policy_kwargs={"optimizer_class": RMSpropTFLike})
    assert "foreach" not in a2c.policy.optimizer.defaults  # an optimizer without the option


@pytest.mark.slow
def test_ppo_learns_the_identity_env_with_weight_norm() -> None:
    """SB3's learn-at-all check (``tests/test_identity.py``: the rewarded action is the
    observation), at a budget that fits the suite, as `wnrl train` runs PPO: no data-dependent
    init (the PPO presets' default)."""
    assert build_config("ppo", "CartPole-v1", norm="wn")["ddi"] is False
    torch.set_num_threads(1)
    env = IdentityEnv(4)
    model = PPO(
        "WNMlpPolicy", env, gamma=0.4, seed=0, n_steps=256, batch_size=64, n_epochs=4,
        learning_rate=1e-3, policy_kwargs={"net_arch": [32]},
    )  # fmt: skip
    before, _ = evaluate_policy(model, env, n_eval_episodes=5, warn=False)
    model.learn(2_048)
    after, _ = evaluate_policy(model, env, n_eval_episodes=5, warn=False)
    assert after >= 90.0, (before, after)
    assert after > before + 30.0
