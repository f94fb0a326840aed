"""A wnrl policy is a drop-in for SB3's: every SB3 use of a policy keeps working.

Bounded memory over long runs, any optimizer class, SB3's save/load of every network, a CNN for
every image space SB3's CnnPolicy takes, string policy names, and an on-policy first update
that uses the initialized policy.
"""

from __future__ import annotations

import gc

import gymnasium as gym
import numpy as np
import pytest
import torch
from small_models import ALGOS, DISCRETE, SMALL, build, env_id, small_kwargs, structure
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import (
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from torch import nn

import wnrl  # noqa: F401  (registers the string names)
from wnrl.callbacks import DataDependentInit
from wnrl.layers import WeightNormConv2d, WeightNormLinear
from wnrl.policies import NORMS, POLICY_NAMES, WN_POLICIES

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
    # wnrl 0.1 kept ~35 new objects per SAC step (dead .data aliases): ~47,000 here
    assert live_objects() - objects < 1_500
    assert max(len(p.__dict__.get("_wn_aliases", ())) for p in model.policy.parameters()) == 0


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
def test_every_optimizer_class_builds_and_trains(algo, optimizer_class, optimizer_kwargs) -> None:
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
    before = [p.detach().clone() for _, params in optimizers_of(model.policy) for p in params]
    model.learn(48)
    after = [p.detach() for _, params in optimizers_of(model.policy) for p in params]
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


# --- 3. SB3's save/load of every network ----------------------------------------------------


NETWORKS = (
    "q_net",
    "q_net_target",
    "quantile_net",
    "quantile_net_target",
    "actor",
    "actor_target",
    "critic",
    "critic_target",
)


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("algo", list(ALGOS))
def test_sb3_save_and_load_of_every_network(algo: str, norm: str, tmp_path) -> None:
    model = build(algo, norm=norm)
    policy = model.policy
    networks = {"policy": policy}
    networks.update({name: getattr(policy, name) for name in NETWORKS if hasattr(policy, name)})
    for name, network in networks.items():
        path = tmp_path / f"{name}.pt"
        network.save(str(path))
        loaded = type(network).load(str(path))
        assert structure(loaded) == structure(network), name
        assert loaded.norm == norm
        state, expected = loaded.state_dict(), network.state_dict()
        assert state.keys() == expected.keys(), name
        for key, value in expected.items():
            torch.testing.assert_close(state[key], value, msg=f"{name}.{key}")
    obs, _ = gym.make(env_id(algo)).reset(seed=0)
    loaded_policy = type(policy).load(str(tmp_path / "policy.pt"))
    np.testing.assert_allclose(
        loaded_policy.predict(obs, deterministic=True)[0],
        policy.predict(obs, deterministic=True)[0],
    )


# --- 4. image observations that are not uint8 get a CNN -----------------------------------


class FloatFrames(gym.ObservationWrapper):
    """Frames already scaled to [0, 1] floats (as after VecNormalize or a user's wrapper)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0.0, 1.0, env.observation_space.shape, np.float32)

    def observation(self, observation):
        return observation.astype(np.float32) / 255.0


def float_image_env(algo: str) -> gym.Env:
    """Channel-first: SB3 transposes only uint8 images (VecTransposeImage), not floats."""
    discrete = algo in DISCRETE
    return FloatFrames(
        FakeImageEnv(
            screen_height=36, screen_width=36, n_channels=1, discrete=discrete, channel_first=True
        )
    )


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("policy_name", ["WNCnnPolicy", None])
def test_float_frames_get_a_nature_cnn_like_sb3_cnn_policy(algo: str, policy_name) -> None:
    kwargs = {"normalize_images": False, "features_extractor_kwargs": {"features_dim": 32}}
    ours = build(algo, policy=policy_name, env=float_image_env(algo), norm="none", **kwargs)
    sb3 = ALGOS[algo](
        "CnnPolicy",
        float_image_env(algo),
        seed=0,
        policy_kwargs={**SMALL, **kwargs},
        **small_kwargs(algo),
    )
    extractors = [m for m in ours.policy.modules() if isinstance(m, NatureCNN)]
    assert extractors and all(e.features_dim == 32 for e in extractors)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours.policy) == count(sb3.policy)  # norm "none": SB3's own network
    ours.learn(24)


# --- 5. string names, and RL Zoo ------------------------------------------------------------


def dict_env(algo: str) -> gym.Env:
    return SimpleMultiObsEnv(random_start=False, discrete_actions=algo in DISCRETE)


VARIANTS = {
    "WNMlpPolicy": (lambda algo: env_id(algo), FlattenExtractor),
    "WNCnnPolicy": (
        lambda algo: FakeImageEnv(
            screen_height=36, screen_width=36, n_channels=1, discrete=algo in DISCRETE
        ),
        NatureCNN,
    ),
    "WNMultiInputPolicy": (dict_env, CombinedExtractor),
}


@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("name", list(VARIANTS))
def test_string_policy_names(algo: str, name: str, tmp_path) -> None:
    make_env, extractor = VARIANTS[name]
    model = ALGOS[algo](
        name, make_env(algo), seed=0, policy_kwargs=dict(SMALL), **small_kwargs(algo)
    )
    assert type(model.policy) is POLICY_NAMES[ALGOS[algo]][name]
    assert isinstance(model.policy, WN_POLICIES[algo])
    assert model.policy.features_extractor_class is extractor
    extractors = [
        m for name, m in model.policy.named_modules() if name.endswith("features_extractor")
    ]
    assert extractors and all(type(m) is extractor for m in extractors)
    assert any(isinstance(m, (WeightNormLinear, WeightNormConv2d)) for m in model.policy.modules())
    model.learn(24)
    path = tmp_path / "model.zip"
    model.save(path)
    trusted = wnrl.load(path, weights_only=True, env=model.get_env())  # never unpickles
    for loaded in (ALGOS[algo].load(path), trusted):
        assert type(loaded.policy) is type(model.policy)
        for key, value in model.policy.state_dict().items():
            torch.testing.assert_close(loaded.policy.state_dict()[key], value)


def test_string_names_leave_sb3_names_alone() -> None:
    from stable_baselines3.dqn.policies import CnnPolicy, MlpPolicy, MultiInputPolicy

    assert DQN.policy_aliases["MlpPolicy"] is MlpPolicy
    assert DQN.policy_aliases["CnnPolicy"] is CnnPolicy
    assert DQN.policy_aliases["MultiInputPolicy"] is MultiInputPolicy


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


RL_ZOO_HYPERPARAMS = {
    "dqn": """CartPole-v1:
  n_timesteps: 500
  policy: 'WNMlpPolicy'
  learning_starts: 100
  batch_size: 32
  buffer_size: 1000
  train_freq: 4
  target_update_interval: 100
  policy_kwargs: "dict(net_arch=[32, 32], norm='wn+mobn')"
""",
    "ppo": """CartPole-v1:
  n_envs: 2
  n_timesteps: 256
  policy: 'WNMlpPolicy'
  n_steps: 64
  batch_size: 64
  n_epochs: 2
  learning_rate: lin_0.001
  policy_kwargs: "dict(net_arch=[32, 32], activation_fn=nn.Tanh)"
""",
}


@pytest.mark.parametrize("algo", ["dqn", "ppo"])
def test_rl_zoo_trains_a_wnrl_policy_through_its_own_command_line(algo: str, tmp_path) -> None:
    """RL Zoo (rl-zoo3, a real client) picks the policy by string name from its hyperparameter
    file once ``--gym-packages wnrl`` imported wnrl; the model it saves loads with SB3."""
    import os
    import subprocess
    import sys

    pytest.importorskip("rl_zoo3")  # in the test extra; absent from the dependency-floor venv
    config = tmp_path / f"{algo}.yml"
    config.write_text(RL_ZOO_HYPERPARAMS[algo])
    command = [
        sys.executable, "-m", "rl_zoo3.train", "--algo", algo, "--env", "CartPole-v1",
        "--gym-packages", "wnrl", "--conf-file", str(config), "-f", str(tmp_path / "logs"),
        "--eval-freq", "-1", "--seed", "0", "--device", "cpu", "--log-interval", "-2",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    (saved,) = (tmp_path / "logs" / algo).glob("CartPole-v1_*/CartPole-v1.zip")
    model = ALGOS[algo].load(saved, device="cpu")
    assert type(model.policy) is POLICY_NAMES[ALGOS[algo]]["WNMlpPolicy"]
    assert model.num_timesteps >= 256
    assert any(isinstance(m, WeightNormLinear) for m in model.policy.modules())
    if algo == "dqn":
        assert model.policy.norm == "wn+mobn"


# --- the acting networks' inference cache is never stale -----------------------------------


def acting_outputs(model, obs: torch.Tensor):
    policy = model.policy
    with torch.no_grad():
        if hasattr(policy, "q_net"):
            return policy.q_net(obs)
        if hasattr(policy, "quantile_net"):
            return policy.quantile_net(obs)
        if hasattr(policy.actor if hasattr(policy, "actor") else None, "get_action_dist_params"):
            return policy.actor.get_action_dist_params(obs)[:2]  # SAC: mean, log std
        if hasattr(policy, "actor"):
            return policy.actor(obs)  # TD3: deterministic
        return policy.get_distribution(obs).distribution.logits, policy.predict_values(obs)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_acting_networks_are_cached_and_never_stale(algo: str) -> None:
    from wnrl.nn.cache import clear_inference_cache
    from wnrl.nn.convert import weight_norm_layers

    model = build(algo)  # fused Adam by default: steps bump no version counter by themselves
    obs = torch.as_tensor(np.stack([model.observation_space.sample() for _ in range(8)]))
    acting = model.policy.acting_networks()
    cached = acting_outputs(model, obs)
    layers = [layer for network in acting for _, layer in weight_norm_layers(network)]
    assert layers and all(layer.cache_inference and layer._cache is not None for layer in layers)
    model.learn(64)  # optimizer steps (and for off-policy, target updates)
    after = acting_outputs(model, obs)
    clear_inference_cache(model.policy)
    fresh = acting_outputs(model, obs)
    for a, b, before in zip(
        torch.utils._pytree.tree_leaves(after),
        torch.utils._pytree.tree_leaves(fresh),
        torch.utils._pytree.tree_leaves(cached),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
        assert not torch.allclose(a, before)  # the weights did move
    for name in NETWORKS:  # targets are written through .data by SB3: never cached
        if name.endswith("_target") and hasattr(model.policy, name):
            target = getattr(model.policy, name)
            assert not any(layer.cache_inference for _, layer in weight_norm_layers(target))


@pytest.mark.parametrize("algo", ["dqn", "sac", "ppo"])
def test_set_parameters_and_load_are_seen_by_the_cache(algo: str, tmp_path) -> None:
    model, other = (
        build(algo),
        ALGOS[algo](
            WN_POLICIES[algo], env_id(algo), seed=1, policy_kwargs=dict(SMALL), **small_kwargs(algo)
        ),
    )
    obs = torch.as_tensor(np.stack([model.observation_space.sample() for _ in range(8)]))
    expected = acting_outputs(other, obs)
    acting_outputs(model, obs)  # fill the cache
    model.set_parameters(other.get_parameters())
    for a, b in zip(
        torch.utils._pytree.tree_leaves(acting_outputs(model, obs)),
        torch.utils._pytree.tree_leaves(expected),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
    other.save(tmp_path / "other.zip")
    loaded = ALGOS[algo].load(tmp_path / "other.zip", device="cpu")
    for a, b in zip(
        torch.utils._pytree.tree_leaves(acting_outputs(loaded, obs)),
        torch.utils._pytree.tree_leaves(expected),
        strict=True,
    ):
        torch.testing.assert_close(a, b)


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
