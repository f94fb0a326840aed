"""SB3's uses of a policy's networks keep working: its save/load of every network, a NatureCNN
for image observations that are not uint8 (as SB3's CnnPolicy builds), and the acting networks'
inference cache: never stale through training, ``set_parameters`` and ``load``; targets never
cached."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from small_models import ALGOS, DISCRETE, SMALL, build, env_id, offered, small_kwargs, structure
from stable_baselines3.common.envs import FakeImageEnv
from stable_baselines3.common.torch_layers import (
    NatureCNN,
)

import wnrl  # noqa: F401  (registers the string names)
from wnrl.policies import WN_POLICIES

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


@pytest.mark.parametrize("algo,norm", offered(ALGOS))
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


@pytest.mark.slow
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


@pytest.mark.slow
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
