"""String policy names (``WNMlpPolicy``, ``WNCnnPolicy``, ``WNMultiInputPolicy``) for every
algorithm after ``import wnrl``, SB3's own names untouched, and RL Zoo training a wnrl policy by
name through its own command line."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch
from small_models import ALGOS, DISCRETE, SMALL, env_id, small_kwargs
from stable_baselines3 import DQN
from stable_baselines3.common.envs import FakeImageEnv, SimpleMultiObsEnv
from stable_baselines3.common.torch_layers import (
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)

import wnrl  # noqa: F401  (registers the string names)
from wnrl.layers import WeightNormConv2d, WeightNormLinear
from wnrl.policies import POLICY_NAMES, WN_POLICIES


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
def test_string_policy_names_build_the_wn_variant(algo: str, name: str) -> None:
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


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
@pytest.mark.parametrize("name", list(VARIANTS))
def test_string_policy_names_train_save_and_load(algo: str, name: str, tmp_path) -> None:
    make_env, _ = VARIANTS[name]
    model = ALGOS[algo](
        name, make_env(algo), seed=0, policy_kwargs=dict(SMALL), **small_kwargs(algo)
    )
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


@pytest.mark.slow
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
