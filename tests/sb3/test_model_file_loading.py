"""Loading model files of every algorithm: algorithm detection, SB3's own loader after a bare
``import wnrl`` and ``wnrl.load`` (trusted and weights-only) in a fresh process, norm buffers,
SB3's own policies (trusted only), and an Atari model rebuilt without its env."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
import torch
from saved_models import (
    OUTPUTS_SOURCE,
    SPEC_IDS,
    Saved,
    assert_same_model,
    edit_data,
    network_outputs,
    observations,
)
from sb3_contrib import QRDQN
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm

import wnrl
from wnrl.errors import WnrlError

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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_detect_unknown_policy(untrained: dict[str, Saved], tmp_path: pathlib.Path) -> None:
    def foreign(data: dict[str, Any]) -> None:
        data["policy_class"] = {":type:": "<class 'abc.ABCMeta'>", "__module__": "mypkg.policies"}

    edit_data(untrained["dqn"].path, tmp_path / "foreign.zip", foreign)
    with pytest.raises(WnrlError, match="cannot tell which algorithm") as error:
        wnrl.detect_algorithm(tmp_path / "foreign.zip")
    assert "\n" not in str(error.value) and str(tmp_path / "foreign.zip") in str(error.value)


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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dqn_bn", "dqn_wn_mobn", "qrdqn_wn_mobn"])
def test_norm_buffers_round_trip(saved: dict[str, Saved], name: str) -> None:
    item = saved[name]
    buffers = {k: v for k, v in item.model.policy.state_dict().items() if "running_mean" in k}
    assert buffers and any(v.abs().sum() > 0 for v in buffers.values())  # trained, not initial
    for loaded in (wnrl.load(item.path), wnrl.load(item.path, weights_only=True)):
        state = loaded.policy.state_dict()
        for key, value in buffers.items():
            assert torch.equal(state[key], value), key
        assert loaded.policy.norm == item.spec.policy_kwargs["norm"]


@pytest.mark.slow
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
