"""A run's compiled optimizer step (experiment.compiled_optimizer, nn.fastpath): when the
``compile_optimizer`` setting compiles, and that the compiled step is SB3's update."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN

from wnrl.errors import ConfigError
from wnrl.experiment import compiled_optimizer
from wnrl.experiment.compiled_optimizer import (
    compile_optimizers,
    constant_learning_rate,
    cpp_compiler,
    expected_updates,
    optimizers_to_compile,
    policy_optimizers,
)
from wnrl.experiment.config import build_config
from wnrl.experiment.rundir import computed_settings, read_config
from wnrl.names import COMPILE_MIN_UPDATES
from wnrl.nn.fastpath import compile_optimizer_step, has_compiled_step
from wnrl.policies import WNDQNPolicy

#: the minatar preset's optimizer: centered RMSprop with momentum (no fused kernel)
RMSPROP = dict(
    optimizer_class=torch.optim.RMSprop,
    optimizer_kwargs=dict(alpha=0.95, momentum=0.95, eps=0.01, centered=True),
)
needs_compiler = pytest.mark.skipif(cpp_compiler() is None, reason="no C++ compiler")


def dqn(learning_rate=2.5e-4, **policy_kwargs) -> DQN:
    kwargs = {"net_arch": [32], **RMSPROP, **policy_kwargs}
    return DQN(
        WNDQNPolicy, "CartPole-v1", learning_rate=learning_rate, learning_starts=100,
        train_freq=1, batch_size=32, seed=0, device="cpu", policy_kwargs=kwargs,
    )  # fmt: skip


def run_config(steps: int, choice: str = "auto") -> dict:
    return {"n_timesteps": steps, "compile_optimizer": choice}


@pytest.fixture(scope="module")
def model() -> DQN:
    return dqn()


@pytest.fixture
def torch_compiles(monkeypatch) -> None:
    """The rule's view of this machine: torch.compile works (the probe is tested below)."""
    monkeypatch.setattr(compiled_optimizer, "compiler_works", lambda device: True)
    monkeypatch.setenv("CXX", "sh")  # any program on PATH stands for a C++ compiler


def test_auto_compiles_cpu_runs_with_enough_updates_at_a_constant_learning_rate(
    model, torch_compiles
) -> None:
    assert constant_learning_rate(model)
    # learning starts at step 100, then one update per step
    assert expected_updates(model, 100 + COMPILE_MIN_UPDATES) == COMPILE_MIN_UPDATES
    enough = 100 + COMPILE_MIN_UPDATES
    assert optimizers_to_compile(model, run_config(enough)) == [model.policy.optimizer]
    assert optimizers_to_compile(model, run_config(enough - 1)) == []
    assert optimizers_to_compile(model, run_config(10**7, "off")) == []
    assert optimizers_to_compile(model, run_config(100, "on")) == [model.policy.optimizer]


def test_updates_are_counted_as_sb3_makes_them() -> None:
    from stable_baselines3 import A2C, PPO

    ppo = PPO("WNMlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=4, device="cpu")
    assert expected_updates(ppo, 640) == 10 * 4 * 2  # rollouts x epochs x minibatches
    a2c = A2C("WNMlpPolicy", "CartPole-v1", n_steps=5, device="cpu")
    assert expected_updates(a2c, 500_000) == 100_000  # one update per rollout of 5 steps
    every_fourth = DQN("WNMlpPolicy", "CartPole-v1", train_freq=4, learning_starts=0)
    assert expected_updates(every_fourth, 400) == 100


def test_auto_skips_schedules_fused_optimizers_and_machines_where_torch_cannot_compile(
    torch_compiles, monkeypatch
) -> None:
    scheduled = dqn(learning_rate=lambda progress: 1e-3 * progress)
    assert not constant_learning_rate(scheduled)
    assert optimizers_to_compile(scheduled, run_config(10**7)) == []
    fused_adam = dqn(optimizer_class=torch.optim.Adam, optimizer_kwargs={})
    assert fused_adam.policy.optimizer.defaults.get("fused")  # wnrl's default for Adam
    assert optimizers_to_compile(fused_adam, run_config(10**7)) == []
    monkeypatch.setattr(compiled_optimizer, "compiler_works", lambda device: False)
    plain = dqn()
    assert optimizers_to_compile(plain, run_config(10**7)) == []
    with pytest.raises(ConfigError, match="torch.compile does not work on cpu"):
        optimizers_to_compile(plain, run_config(100, "on"))
    monkeypatch.setenv("CXX", "no-such-compiler-anywhere")
    assert cpp_compiler() is None
    with pytest.raises(ConfigError, match="no C.. compiler found"):
        optimizers_to_compile(plain, run_config(100, "on"))
    with pytest.raises(ConfigError, match="no C.. compiler found"):
        build_config("dqn", "CartPole-v1", compile_optimizer="on")


@pytest.mark.slow  # a fresh process: inductor settles on its compiler once per process
def test_a_compiler_that_cannot_build_is_found_out_before_training() -> None:
    """A C++ compiler on PATH is not enough (inductor also needs Python's headers): the probe
    compiles a tiny function, and a build that fails means torch.compile does not work."""
    probe = (
        "from wnrl.experiment.compiled_optimizer import compiler_works, cpp_compiler; "
        "print(cpp_compiler() is not None, compiler_works('cpu'))"
    )
    env = {**os.environ, "CXX": "false"}  # on PATH, builds nothing
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["True", "False"]


def test_the_policy_s_optimizers_are_found_once_each() -> None:
    from stable_baselines3 import SAC

    from wnrl.policies import WNSACPolicy

    sac = SAC(WNSACPolicy, "Pendulum-v1", policy_kwargs={"net_arch": [8]}, device="cpu")
    found = policy_optimizers(sac)
    assert found == [sac.policy.actor.optimizer, sac.policy.critic.optimizer]


def test_the_setting_is_validated_recorded_and_not_a_computed_setting(tmp_path) -> None:
    assert build_config("dqn", "CartPole-v1")["compile_optimizer"] == "auto"
    with pytest.raises(ConfigError, match="--compile-optimizer must be one of auto, on, off"):
        build_config("dqn", "CartPole-v1", compile_optimizer="always")
    old = tmp_path / "config.yaml"
    old.write_text("agent: dqn\nenv: CartPole-v1\nnorm: wn\nseed: 0\n")
    assert read_config(old)["compile_optimizer"] == "off"  # runs before the setting: eager
    # how the update is computed, not what: a sweep resumes a run whatever its choice was
    eager = build_config("dqn", "CartPole-v1", seed=1, compile_optimizer="off")
    assert computed_settings(eager) == computed_settings({**eager, "compile_optimizer": "auto"})


def test_the_cli_option_reaches_the_config() -> None:
    from wnrl.cli.commands import build_parser
    from wnrl.cli.options import run_option_values

    parser = build_parser()
    for argv, expected in (([], "auto"), (["--compile-optimizer", "off"], "off")):
        for command in (["train", "dqn"], ["sweep", "--agent", "dqn"]):
            args = parser.parse_args([*command, "CartPole-v1", *argv])
            options = run_option_values(args)
            assert options["compile_optimizer"] == expected
            if command[0] == "train":
                config = build_config("dqn", "CartPole-v1", **options)
                assert config["compile_optimizer"] == expected
    resumed = parser.parse_args(["train", "--resume", "some/run"])
    assert resumed.compile_optimizer is None  # a resume keeps the run's setting unless given


def test_compiling_changes_this_optimizer_instance_alone() -> None:
    first, second = dqn(), dqn()
    optimizer = first.policy.optimizer
    assert compile_optimizer_step(optimizer) is True
    assert compile_optimizer_step(optimizer) is False  # idempotent
    assert has_compiled_step(optimizer) and not has_compiled_step(second.policy.optimizer)
    assert "step" not in second.policy.optimizer.__dict__
    assert type(optimizer).step is torch.optim.RMSprop.step  # the class is untouched
    restored = pickle.loads(pickle.dumps(optimizer.state_dict()))
    second.policy.optimizer.load_state_dict(restored)  # its saved state is an eager one's


def train_steps(model: DQN, steps: int) -> list[torch.Tensor]:
    np.random.seed(7)  # SB3's replay buffer samples with numpy's global generator
    torch.manual_seed(7)
    model.train(gradient_steps=steps, batch_size=32)
    return [p.detach().clone() for p in model.policy.q_net.parameters()]


@pytest.mark.slow
@needs_compiler
def test_the_compiled_step_makes_sb3_s_update(tmp_path) -> None:
    """From the same state and the same sampled batches, DQN's update with the compiled
    optimizer step moves every parameter where SB3's eager update does (float rounding)."""
    model = dqn()
    model.learn(300)  # a replay buffer, optimizer state and some updates behind it
    policy_state = copy.deepcopy(model.policy.state_dict())
    optimizer_state = copy.deepcopy(model.policy.optimizer.state_dict())
    before = [p.detach().clone() for p in model.policy.q_net.parameters()]
    eager = train_steps(model, 5)
    model.policy.load_state_dict(policy_state)
    model.policy.optimizer.load_state_dict(optimizer_state)
    note = compile_optimizers(model, run_config(100, "on"))
    assert note is not None and "RMSprop" in note
    compiled = train_steps(model, 5)
    assert not any(torch.equal(a, b) for a, b in zip(eager, before, strict=True))
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
