"""Small saved models of every algorithm, their reference outputs, and surgery on model files
(test helpers for wnrl.sb3.model_files)."""

from __future__ import annotations

import base64
import json
import pathlib
import pickle
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import recursive_getattr
from torch import nn

from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy, WNQRDQNPolicy, WNSACPolicy, WNTD3Policy

# The same source runs here and in the fresh interpreter of test_fresh_process_loads.
OUTPUTS_SOURCE = '''
def network_outputs(model, obs):
    """Deterministic raw outputs: Q values, quantiles, logits and values, or actions."""
    import torch

    policy = model.policy
    policy.set_training_mode(False)
    tensor, _ = policy.obs_to_tensor(obs)
    with torch.no_grad():
        if hasattr(policy, "quantile_net"):
            out = policy.quantile_net(tensor)
        elif hasattr(policy, "q_net"):
            out = policy.q_net(tensor)
        elif hasattr(policy, "value_net"):
            logits = policy.get_distribution(tensor).distribution.logits
            out = torch.cat([logits, policy.predict_values(tensor)], dim=1)
        else:
            out = policy._predict(tensor, deterministic=True)
    return out.reshape(len(obs), -1).numpy()
'''
_namespace: dict[str, Any] = {}
exec(OUTPUTS_SOURCE, _namespace)
network_outputs = _namespace["network_outputs"]

OFF_POLICY = dict(buffer_size=500, learning_starts=32, batch_size=16, train_freq=1, seed=0)


@dataclass(frozen=True)
class Spec:
    name: str
    algo: type[BaseAlgorithm]
    policy: type
    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)


SPECS = [
    Spec("dqn", DQN, WNDQNPolicy, "CartPole-v1", OFF_POLICY),
    Spec("qrdqn", QRDQN, WNQRDQNPolicy, "CartPole-v1", OFF_POLICY, {"n_quantiles": 8}),
    Spec(
        "ppo",
        PPO,
        WNActorCriticPolicy,
        "CartPole-v1",
        dict(n_steps=64, batch_size=32, n_epochs=2, clip_range=0.3, seed=0),
    ),
    Spec("a2c", A2C, WNActorCriticPolicy, "CartPole-v1", dict(n_steps=8, seed=0)),
    Spec("sac", SAC, WNSACPolicy, "Pendulum-v1", OFF_POLICY),
    Spec("td3", TD3, WNTD3Policy, "Pendulum-v1", OFF_POLICY, {"activation_fn": nn.Tanh}),
    Spec("dqn_bn", DQN, WNDQNPolicy, "CartPole-v1", OFF_POLICY, {"norm": "bn"}),
    Spec("dqn_wn_mobn", DQN, WNDQNPolicy, "CartPole-v1", OFF_POLICY, {"norm": "wn+mobn"}),
    Spec(
        "qrdqn_wn_mobn",
        QRDQN,
        WNQRDQNPolicy,
        "CartPole-v1",
        OFF_POLICY,
        {"n_quantiles": 8, "norm": "wn+mobn"},
    ),
]
SPEC_IDS = [spec.name for spec in SPECS]


@dataclass
class Saved:
    spec: Spec
    model: BaseAlgorithm
    path: pathlib.Path
    obs: np.ndarray
    outputs: np.ndarray
    actions: np.ndarray


def observations(space: spaces.Space, n: int = 16) -> np.ndarray:
    space.seed(123)
    return np.stack([space.sample() for _ in range(n)]).astype(space.dtype)


def save_models(root: pathlib.Path, steps: int) -> dict[str, Saved]:
    """Every spec trained for ``steps`` steps (0: as built) and saved under ``root``, with its
    outputs on a fixed batch."""
    result = {}
    for spec in SPECS:
        policy_kwargs = {"net_arch": [32], **spec.policy_kwargs}
        model = spec.algo(spec.policy, spec.env_id, policy_kwargs=policy_kwargs, **spec.kwargs)
        if steps:
            model.learn(steps)
        path = root / f"{spec.name}.zip"
        model.save(path)
        obs = observations(model.observation_space)
        actions, _ = model.predict(obs, deterministic=True)
        result[spec.name] = Saved(spec, model, path, obs, network_outputs(model, obs), actions)
    return result


def assert_nested_equal(a: Any, b: Any, where: str = "") -> None:
    """Equal nested dicts / lists of tensors and plain values (state dicts, optimizer states)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_nested_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_nested_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    else:
        assert a == b, where


def assert_same_model(loaded: BaseAlgorithm, item: Saved) -> None:
    """Same class, outputs, actions, every state dict and PyTorch variable as the saved model."""
    assert type(loaded) is item.spec.algo
    assert type(loaded.policy) is item.spec.policy
    np.testing.assert_array_equal(network_outputs(loaded, item.obs), item.outputs)
    actions, _ = loaded.predict(item.obs, deterministic=True)
    np.testing.assert_array_equal(actions, item.actions)
    assert_nested_equal(loaded.get_parameters(), item.model.get_parameters(), "params")
    for name in item.model._get_torch_save_params()[1]:
        assert_nested_equal(recursive_getattr(loaded, name), recursive_getattr(item.model, name))


# ----------------------------------------------------------------------------- file surgery


def rewrite_zip(src: pathlib.Path, dst: pathlib.Path, replace: dict[str, bytes | None]) -> None:
    """Copy an archive, replacing (bytes) or dropping (None) the named entries."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for name in old.namelist():
            content = replace.get(name, old.read(name))
            if content is not None:
                new.writestr(name, content)
        for name, content in replace.items():
            if name not in old.namelist() and content is not None:
                new.writestr(name, content)


class TouchOnUnpickle:
    """Unpickling this creates ``marker``: stands for any code a malicious pickle would run."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def poison(
    src: pathlib.Path, dst: pathlib.Path, marker: pathlib.Path, keys: set[str] | None = None
) -> int:
    """Replace the pickles of ``data`` (all, or ``keys``) by a payload that creates ``marker``."""
    with zipfile.ZipFile(src) as archive:
        data = json.loads(archive.read("data"))
    payload = base64.b64encode(pickle.dumps(TouchOnUnpickle(marker))).decode()
    poisoned = 0
    for key, value in data.items():
        if isinstance(value, dict) and ":serialized:" in value and (keys is None or key in keys):
            value[":serialized:"] = payload
            poisoned += 1
    rewrite_zip(src, dst, {"data": json.dumps(data).encode()})
    return poisoned


def edit_data(src: pathlib.Path, dst: pathlib.Path, edit: Any) -> None:
    with zipfile.ZipFile(src) as archive:
        data = json.loads(archive.read("data"))
    edit(data)
    rewrite_zip(src, dst, {"data": json.dumps(data).encode()})


def edit_tensors(src: pathlib.Path, dst: pathlib.Path, entry: str, edit: Any) -> None:
    with zipfile.ZipFile(src) as archive:
        state = torch.load(archive.open(entry), weights_only=True)
    edit(state)
    buffer = pathlib.Path(dst.parent / f"{dst.stem}.pth")
    torch.save(state, buffer)
    rewrite_zip(src, dst, {entry: buffer.read_bytes()})
