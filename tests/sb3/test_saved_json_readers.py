"""Reading a model file's ``data`` JSON without pickle: spaces from their readable description
(exact or refused), ``policy_kwargs`` through a whitelist of classes."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.save_util import data_to_json
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn

from wnrl.errors import WnrlError
from wnrl.sb3.saved_hyperparameters import policy_kwargs_from_json
from wnrl.sb3.saved_spaces import space_from_json

# ----------------------------------------------------------------------------- JSON readers


def _described(value: Any) -> Any:
    """What SB3's data_to_json writes for ``value`` (a pickled object's readable side)."""
    return json.loads(data_to_json({"value": value}))["value"]


@pytest.mark.parametrize(
    "space",
    [
        gym.make("CartPole-v1").observation_space,
        gym.make("Pendulum-v1").action_space,
        spaces.Box(0, 255, (3, 8, 8), np.uint8),
        spaces.Box(np.array([-1, 0, 2]), np.array([5, 7, 9]), dtype=np.int32),
        spaces.Box(np.array([1e-6, 0.5], np.float32), np.array([1e6, 2.0], np.float32)),
        spaces.Discrete(5, start=-1),
        spaces.MultiDiscrete([2, 3, 4]),
        spaces.MultiBinary(3),
        spaces.MultiBinary([2, 2]),
    ],
    ids=lambda space: type(space).__name__,
)
def test_space_from_json(space: spaces.Space) -> None:
    rebuilt = space_from_json(_described(space))
    assert type(rebuilt) is type(space) and rebuilt == space
    assert rebuilt.dtype == space.dtype and rebuilt.shape == space.shape
    if isinstance(space, spaces.Box):
        np.testing.assert_array_equal(rebuilt.low, space.low)
        np.testing.assert_array_equal(rebuilt.high, space.high)


def test_space_from_json_uses_short_repr_of_large_uniform_box() -> None:
    import gymnasium

    space = spaces.Box(0, 255, (84, 84, 4), np.uint8)
    if tuple(int(part) for part in gymnasium.__version__.split(".")[:2]) >= (1, 3):
        # gymnasium >= 1.3 fills low_repr / high_repr ("0", "255") on the first repr only
        with pytest.raises(WnrlError, match="summary"):
            space_from_json(_described(space))
        repr(space)
    assert space_from_json(_described(space)) == space


@pytest.mark.parametrize(
    "space, reason",
    [
        (spaces.Box(np.linspace(-2, -1, 1200, dtype=np.float32), 1.0), "summary"),
        (
            spaces.Box(
                np.array([0.05, np.nextafter(np.float32(0.05), np.float32(1))], np.float32), 1.0
            ),
            "rounded",
        ),
        (spaces.Dict({"x": spaces.Discrete(2)}), "unsupported space"),
    ],
    ids=["summarized", "rounded", "dict"],
)
def test_space_from_json_refuses_inexact(space: spaces.Space, reason: str) -> None:
    with pytest.raises(WnrlError, match=reason):
        space_from_json(_described(space))


def test_policy_kwargs_whitelist() -> None:
    kwargs = {
        "net_arch": {"pi": [8], "vf": [8]},
        "activation_fn": nn.Tanh,
        "optimizer_class": RMSpropTFLike,
        "optimizer_kwargs": {"alpha": 0.9, "eps": 1e-5},
        "features_extractor_class": FlattenExtractor,
        "device": "cpu",
        "norm": "wn+mobn",
    }
    expected = {k: v for k, v in kwargs.items() if k != "device"}
    assert policy_kwargs_from_json(_described(kwargs)) == expected
    assert policy_kwargs_from_json(_described({"net_arch": [8], "norm": "ln"})) == {
        "net_arch": [8],
        "norm": "ln",
    }
    assert (
        policy_kwargs_from_json(_described({"optimizer_class": torch.optim.Adam}))[
            "optimizer_class"
        ]
        is torch.optim.Adam
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"activation_fn": subprocess.Popen},
        {"activation_fn": lambda: nn.ReLU()},
        {
            "features_extractor_kwargs": {"activation_fn": nn.ReLU}
        },  # nested: only its str() is stored
    ],
    ids=["class", "function", "nested"],
)
def test_policy_kwargs_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(WnrlError, match="without unpickling; use weights_only=False"):
        policy_kwargs_from_json(_described(kwargs))
