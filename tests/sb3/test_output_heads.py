"""The policies' output heads: plain under weight norm by default (``plain_heads=True``), every
head weight-normalized in the paper's network (saved and loaded as it was), and the init
leaving plain heads as SB3 built them on request."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from small_models import ALGOS, build, env_id, optimizers_of, structure
from torch import nn

from wnrl.callbacks import DataDependentInit
from wnrl.layers import WeightNormLinear


@pytest.mark.parametrize("algo", list(ALGOS))
def test_weight_norm_leaves_the_output_heads_plain_by_default(algo: str) -> None:
    model = build(algo, norm="wn")
    heads = model.policy.output_heads()
    assert model.policy.plain_heads
    assert heads and all(type(head) is nn.Linear for head in heads)
    hidden = [m for m in model.policy.modules() if isinstance(m, WeightNormLinear)]
    assert hidden and not any(m in heads for m in hidden)


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
def test_plain_heads_stay_plain_through_the_init_training_and_a_reload(algo: str, tmp_path) -> None:
    model = build(algo, norm="wn")
    model.learn(48, callback=DataDependentInit(n_samples=16))  # DDI rescales plain heads too
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = ALGOS[algo].load(path)
    assert loaded.policy.plain_heads and structure(loaded.policy) == structure(model.policy)
    assert all(type(head) is nn.Linear for head in loaded.policy.output_heads())


@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_papers_network_weight_normalizes_the_heads_too(algo: str) -> None:
    model = build(algo, norm="wn", plain_heads=False)
    heads = model.policy.output_heads()
    assert heads and all(isinstance(head, WeightNormLinear) for head in heads)


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_papers_network_saves_and_loads_as_it_was(algo: str, tmp_path) -> None:
    """Weight-normalized heads (``plain_heads=False``) come back from a model file: same heads,
    parameters and predictions, and the loaded model trains on."""
    old = build(algo, norm="wn", plain_heads=False)
    old.learn(48)
    path = tmp_path / "paper.zip"
    old.save(path)
    env = gym.make(env_id(algo))
    obs = np.stack([env.observation_space.sample() for _ in range(16)])
    loaded = ALGOS[algo].load(path, env=env)
    policy = loaded.policy
    assert not policy.plain_heads
    assert structure(policy) == structure(old.policy)
    assert all(isinstance(head, WeightNormLinear) for head in policy.output_heads())
    for key, value in old.policy.state_dict().items():
        torch.testing.assert_close(policy.state_dict()[key], value, msg=key)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True)[0], old.predict(obs, deterministic=True)[0]
    )
    stepped = [p for opt in optimizers_of(policy) for g in opt.param_groups for p in g["params"]]
    assert {id(p) for p in stepped} <= {id(p) for p in policy.parameters()}
    loaded.learn(48, reset_num_timesteps=False)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_init_can_leave_the_plain_heads_as_sb3_built_them(algo: str) -> None:
    env = gym.make(env_id(algo))
    obs = torch.as_tensor(np.stack([env.observation_space.sample() for _ in range(32)]))
    actions = torch.as_tensor(np.stack([env.action_space.sample() for _ in range(32)]))
    for rescale in (True, False):
        policy = build(algo, norm="wn").policy
        heads = list(policy.output_heads())
        before = [head.weight.detach().clone() for head in heads]
        policy.data_dependent_init(obs, actions, rescale_plain_heads=rescale)
        moved = [
            not torch.equal(head.weight, weight) for head, weight in zip(heads, before, strict=True)
        ]
        assert all(moved) if rescale else not any(moved)
        hidden = [m for m in policy.modules() if isinstance(m, WeightNormLinear)]
        assert hidden and all(not torch.allclose(m.bias, torch.zeros_like(m.bias)) for m in hidden)
