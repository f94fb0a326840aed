"""wnrl.sb3.model_files: algorithm detection, SB3's loader, the pickle-free weights-only loader."""

from __future__ import annotations

import base64
import io
import json
import pathlib
import pickle
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.save_util import data_to_json, recursive_getattr
from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
from stable_baselines3.common.torch_layers import FlattenExtractor
from torch import nn

import wnrl
from wnrl.errors import WnrlError
from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy, WNQRDQNPolicy, WNSACPolicy, WNTD3Policy
from wnrl.sb3.saved_hyperparameters import policy_kwargs_from_json
from wnrl.sb3.saved_spaces import space_from_json

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
    Spec(
        "ppo_wn_mobn",
        PPO,
        WNActorCriticPolicy,
        "CartPole-v1",
        dict(n_steps=64, batch_size=32, n_epochs=2, seed=0),
        {"norm": "wn+mobn"},
    ),
    Spec("sac_wn_mobn", SAC, WNSACPolicy, "Pendulum-v1", OFF_POLICY, {"norm": "wn+mobn"}),
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


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Saved]:
    """Every spec trained for 128 steps and saved, with its outputs on a fixed batch."""
    root = tmp_path_factory.mktemp("models")
    result = {}
    for spec in SPECS:
        policy_kwargs = {"net_arch": [32], **spec.policy_kwargs}
        model = spec.algo(spec.policy, spec.env_id, policy_kwargs=policy_kwargs, **spec.kwargs)
        model.learn(128)
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


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything calls pickle / cloudpickle's loaders."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("something was unpickled")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "loads", refuse)
        monkeypatch.setattr(module, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


# ----------------------------------------------------------------------------- (a) fresh process

FRESH_SCRIPT = (
    OUTPUTS_SOURCE
    + """
import json, sys
import numpy as np
import wnrl

from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3

# a bare ``import wnrl`` registers the string names with every algorithm
for algo in (DQN, QRDQN, PPO, A2C, SAC, TD3):
    assert {"WNMlpPolicy", "WNCnnPolicy", "WNMultiInputPolicy"} <= set(algo.policy_aliases)

ALGOS = {"DQN": DQN, "QRDQN": QRDQN, "PPO": PPO, "A2C": A2C, "SAC": SAC, "TD3": TD3}
for entry in json.load(open(sys.argv[1])):
    obs, outputs, actions = (np.load(entry[key]) for key in ("obs", "outputs", "actions"))
    algo = ALGOS[entry["algo"]]
    loaders = {
        "sb3": lambda: algo.load(entry["path"]),
        "wnrl": lambda: wnrl.load(entry["path"]),
        "weights_only": lambda: wnrl.load(entry["path"], weights_only=True),
    }
    for how, loader in loaders.items():
        model = loader()
        assert type(model) is algo, (entry["name"], how, type(model))
        np.testing.assert_allclose(network_outputs(model, obs), outputs, rtol=1e-6, atol=1e-7)
        predicted, _ = model.predict(obs, deterministic=True)
        np.testing.assert_allclose(predicted, actions, rtol=1e-6, atol=1e-7)
    print("ok", entry["name"])
"""
)


def test_fresh_process_loads(saved: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    """SB3's X.load after a bare ``import wnrl``, wnrl.load, and weights_only in a new process."""
    manifest = []
    for name, item in saved.items():
        files = {key: tmp_path / f"{name}_{key}.npy" for key in ("obs", "outputs", "actions")}
        for key, file in files.items():
            np.save(file, getattr(item, key))
        entry = {key: str(file) for key, file in files.items()}
        manifest.append(
            {"name": name, "algo": item.spec.algo.__name__, "path": str(item.path), **entry}
        )
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    script = tmp_path / "check.py"
    script.write_text(FRESH_SCRIPT)
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "manifest.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [word for name in saved for word in ("ok", name)]


# ----------------------------------------------------------------------------- (b) detection


@pytest.mark.parametrize("name", SPEC_IDS)
def test_detect_and_load_trusted(saved: dict[str, Saved], name: str) -> None:
    item = saved[name]
    assert wnrl.detect_algorithm(item.path) is item.spec.algo
    without_suffix = item.path.with_suffix("")
    assert wnrl.detect_algorithm(without_suffix) is item.spec.algo
    assert_same_model(wnrl.load(without_suffix), item)


@pytest.mark.parametrize(
    "algo, policy",
    [
        (PPO, "MlpPolicy"),
        (A2C, "MlpPolicy"),
        (DQN, "MlpPolicy"),
        (SAC, "MlpPolicy"),
        (TD3, "MlpPolicy"),
        (QRDQN, "MlpPolicy"),
    ],
)
def test_detect_sb3_policies(
    tmp_path: pathlib.Path, algo: type[BaseAlgorithm], policy: str
) -> None:
    env_id = "Pendulum-v1" if algo in (SAC, TD3) else "CartPole-v1"
    kwargs = {"buffer_size": 10} if algo in (DQN, SAC, TD3, QRDQN) else {}
    algo(policy, env_id, policy_kwargs={"net_arch": [8]}, **kwargs).save(tmp_path / "m.zip")
    assert wnrl.detect_algorithm(tmp_path / "m.zip") is algo


def test_detect_unknown_policy(saved: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    def foreign(data: dict[str, Any]) -> None:
        data["policy_class"] = {":type:": "<class 'abc.ABCMeta'>", "__module__": "mypkg.policies"}

    edit_data(saved["dqn"].path, tmp_path / "foreign.zip", foreign)
    with pytest.raises(WnrlError, match="cannot tell which algorithm") as error:
        wnrl.detect_algorithm(tmp_path / "foreign.zip")
    assert "\n" not in str(error.value) and str(tmp_path / "foreign.zip") in str(error.value)


# ----------------------------------------------------------------------------- (c) weights only


@pytest.mark.parametrize("name", SPEC_IDS)
def test_weights_only_never_unpickles(
    saved: dict[str, Saved], tmp_path: pathlib.Path, name: str, no_unpickling: None
) -> None:
    """Every pickle in the file replaced by a payload: the model loads, the payload never runs."""
    item, marker = saved[name], tmp_path / "marker"
    poisoned = tmp_path / "poisoned.zip"
    assert poison(item.path, poisoned, marker) >= 5  # policy_class, spaces, schedules, buffers...
    loaded = wnrl.load(poisoned, weights_only=True)
    assert not marker.exists()
    assert_same_model(loaded, item)
    assert loaded.policy_kwargs == item.model.policy_kwargs
    assert loaded.observation_space == item.model.observation_space
    assert loaded.action_space == item.model.action_space
    for attribute in ("learning_rate", "gamma", "num_timesteps", "_n_updates", "n_envs"):
        assert getattr(loaded, attribute) == getattr(item.model, attribute), attribute


def test_trusted_load_runs_the_payload(saved: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    """The poisoning is real: SB3's loader (weights_only=False) runs it, weights_only does not."""
    marker, poisoned = tmp_path / "marker", tmp_path / "poisoned.zip"
    assert poison(saved["dqn"].path, poisoned, marker, keys={"ep_success_buffer"}) == 1
    wnrl.load(poisoned, weights_only=True)
    assert not marker.exists()
    wnrl.load(poisoned)
    assert marker.exists()


def test_weights_only_ppo_keeps_clip_range(saved: dict[str, Saved]) -> None:
    loaded = wnrl.load(saved["ppo"].path, weights_only=True)
    assert loaded.clip_range(1.0) == pytest.approx(0.3)


def test_weights_only_with_env_then_trains(saved: dict[str, Saved]) -> None:
    item = saved["dqn"]
    loaded = wnrl.load(item.path, env=gym.make("CartPole-v1"), weights_only=True)
    assert loaded.get_env() is not None and loaded.n_envs == 1
    assert_same_model(loaded, item)
    loaded.learn(16, reset_num_timesteps=False)
    assert loaded.num_timesteps == item.model.num_timesteps + 16


def test_weights_only_env_mismatch(saved: dict[str, Saved]) -> None:
    with pytest.raises(WnrlError, match="does not match") as error:
        wnrl.load(saved["dqn"].path, env=gym.make("Acrobot-v1"), weights_only=True)
    assert str(saved["dqn"].path) in str(error.value)


def test_weights_only_unrebuildable_space_needs_env(
    saved: dict[str, Saved], tmp_path: pathlib.Path
) -> None:
    """A summarized bounds repr cannot be read back: refused without env=, loaded with it."""
    item, edited = saved["dqn"], tmp_path / "summary.zip"

    def summarize(data: dict[str, Any]) -> None:
        data["observation_space"]["low"] = "[-4.8 ... -inf]"

    edit_data(item.path, edited, summarize)
    with pytest.raises(WnrlError, match="env=") as error:
        wnrl.load(edited, weights_only=True)
    assert "\n" not in str(error.value) and "observation_space" in str(error.value)
    assert_same_model(wnrl.load(edited, env=gym.make("CartPole-v1"), weights_only=True), item)
    with pytest.raises(WnrlError, match="does not match"):  # type / shape still checked
        wnrl.load(edited, env=gym.make("Pendulum-v1"), weights_only=True)


def test_weights_only_refuses_unlisted_policy_kwargs(
    saved: dict[str, Saved], tmp_path: pathlib.Path
) -> None:
    def smuggle(data: dict[str, Any]) -> None:
        data["policy_kwargs"] = {
            ":type:": "<class 'dict'>",
            ":serialized:": "AAAA",
            "net_arch": [32],
            "activation_fn": "<class 'subprocess.Popen'>",
        }

    edit_data(saved["dqn"].path, tmp_path / "smuggle.zip", smuggle)
    with pytest.raises(WnrlError, match="cannot be loaded without unpickling.*weights_only=False"):
        wnrl.load(tmp_path / "smuggle.zip", weights_only=True)


# ----------------------------------------------------------------------------- (d) tampered tensors


def _drop_first(state: dict[str, Any]) -> None:
    del state[next(iter(state))]


def _widen_first(state: dict[str, Any]) -> None:
    key = next(iter(state))
    state[key] = torch.zeros(state[key].shape[0] + 1, *state[key].shape[1:])


def _add_key(state: dict[str, Any]) -> None:
    state["extra.weight"] = torch.zeros(3)


@pytest.mark.parametrize(
    "edit", [_drop_first, _widen_first, _add_key], ids=["missing", "shape", "unexpected"]
)
@pytest.mark.parametrize("name", ["ppo", "sac"])
def test_tampered_tensors_refused(
    saved: dict[str, Saved], tmp_path: pathlib.Path, name: str, edit: Any
) -> None:
    tampered = tmp_path / "tampered.zip"
    edit_tensors(saved[name].path, tampered, "policy.pth", edit)
    with pytest.raises(WnrlError, match="do not match") as error:
        wnrl.load(tampered, weights_only=True)
    assert "\n" not in str(error.value) and str(tampered) in str(error.value)
    with pytest.raises(WnrlError):  # SB3's own loader refuses it too, wrapped in one line
        wnrl.load(tampered)


def test_tampered_entries_refused(saved: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    extra, variable = tmp_path / "extra.zip", tmp_path / "variable.zip"
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(1)}, buffer)
    rewrite_zip(saved["dqn"].path, extra, {"evil.pth": buffer.getvalue()})
    with pytest.raises(WnrlError, match="do not match.*evil"):
        wnrl.load(extra, weights_only=True)

    def wrong_shape(state: dict[str, Any]) -> None:
        state["log_ent_coef"] = torch.zeros(2)

    edit_tensors(saved["sac"].path, variable, "pytorch_variables.pth", wrong_shape)
    with pytest.raises(WnrlError, match="do not match.*log_ent_coef"):
        wnrl.load(variable, weights_only=True)


# ----------------------------------------------------------------------------- (e) bad files


def _zip_without(src: pathlib.Path, dst: pathlib.Path, entry: str) -> pathlib.Path:
    rewrite_zip(src, dst, {entry: None})
    return dst


@pytest.mark.parametrize("weights_only", [False, True])
def test_bad_files(saved: dict[str, Saved], tmp_path: pathlib.Path, weights_only: bool) -> None:
    not_zip = tmp_path / "notzip.zip"
    not_zip.write_text("hello")
    bad_json = tmp_path / "badjson.zip"
    rewrite_zip(saved["dqn"].path, bad_json, {"data": b"{not json"})
    cases = {
        tmp_path / "missing.zip": "not found",
        not_zip: "not a zip",
        _zip_without(saved["dqn"].path, tmp_path / "nodata.zip", "data"): "no 'data'",
        _zip_without(saved["dqn"].path, tmp_path / "noparams.zip", "policy.pth"): "no 'policy.pth'",
        bad_json: "not valid JSON",
    }
    for path, message in cases.items():
        with pytest.raises(WnrlError, match=message) as error:
            wnrl.load(path, weights_only=weights_only)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(WnrlError, match="not found"):
        wnrl.detect_algorithm(tmp_path / "missing")


# ----------------------------------------------------------------------------- (f) SB3's own policy


def test_sb3_policy_trusted_only(tmp_path: pathlib.Path) -> None:
    model = DQN("MlpPolicy", "CartPole-v1", policy_kwargs={"net_arch": [16]}, buffer_size=10)
    model.save(tmp_path / "sb3.zip")
    obs = observations(model.observation_space)
    loaded = wnrl.load(tmp_path / "sb3.zip")
    assert type(loaded) is DQN
    np.testing.assert_array_equal(network_outputs(loaded, obs), network_outputs(model, obs))
    with pytest.raises(WnrlError, match="not a wnrl policy.*weights_only=False"):
        wnrl.load(tmp_path / "sb3.zip", weights_only=True)


# ----------------------------------------------------------------------------- (g) norm buffers


@pytest.mark.parametrize("name", ["dqn_bn", "ppo_wn_mobn", "sac_wn_mobn"])
def test_norm_buffers_round_trip(saved: dict[str, Saved], name: str) -> None:
    item = saved[name]
    buffers = {k: v for k, v in item.model.policy.state_dict().items() if "running_mean" in k}
    assert buffers and any(v.abs().sum() > 0 for v in buffers.values())  # trained, not initial
    for loaded in (wnrl.load(item.path), wnrl.load(item.path, weights_only=True)):
        state = loaded.policy.state_dict()
        for key, value in buffers.items():
            assert torch.equal(state[key], value), key
        assert loaded.policy.norm == item.spec.policy_kwargs["norm"]


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


def test_weights_only_rebuilds_an_atari_model_without_its_env(tmp_path: pathlib.Path) -> None:
    """wnrl.envs.make_env fills gymnasium's lazy Box.low_repr, so the saved JSON describes the
    84x84x4 uint8 image space exactly and no env is needed to rebuild it."""
    from wnrl.envs.factory import make_env
    from wnrl.sb3.model_files import load
    from wnrl.sb3.policies import WNDQNPolicy

    env = make_env("ALE/Breakout-v5", n_envs=1, seed=0)
    model = DQN(
        WNDQNPolicy,
        env,
        learning_starts=8,
        buffer_size=64,
        batch_size=4,
        policy_kwargs={"features_extractor_kwargs": {"features_dim": 16}},
        seed=0,
    )
    model.learn(24)
    path = tmp_path / "breakout.zip"
    model.save(path)
    obs = env.reset()
    env.close()
    loaded = load(path, weights_only=True)
    assert loaded.observation_space == model.observation_space
    with torch.no_grad():
        expected = model.policy.q_net(torch.as_tensor(obs))
        torch.testing.assert_close(loaded.policy.q_net(torch.as_tensor(obs)), expected)
