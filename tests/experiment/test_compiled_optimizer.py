"""A run's compiled optimizer step (experiment.compiled_optimizer, nn.fastpath): when the
``compile_optimizer`` setting compiles, and that the compiled step is SB3's update."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN

from wnrl.errors import ConfigError
from wnrl.experiment.compiled_optimizer import (
    compile_optimizers,
    constant_learning_rate,
    cpp_compiler,
    optimizers_to_compile,
    policy_optimizers,
)
from wnrl.experiment.config import build_config
from wnrl.experiment.rundir import computed_settings, read_config
from wnrl.names import COMPILE_MIN_STEPS
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


def test_auto_compiles_long_cpu_runs_at_a_constant_learning_rate(model, monkeypatch) -> None:
    monkeypatch.setenv("CXX", "sh")  # any program on PATH stands for a compiler here
    assert constant_learning_rate(model)
    assert optimizers_to_compile(model, run_config(COMPILE_MIN_STEPS)) == [model.policy.optimizer]
    assert optimizers_to_compile(model, run_config(COMPILE_MIN_STEPS - 1)) == []
    assert optimizers_to_compile(model, run_config(10**7, "off")) == []
    assert optimizers_to_compile(model, run_config(100, "on")) == [model.policy.optimizer]


def test_auto_skips_schedules_fused_optimizers_and_machines_without_a_compiler(
    monkeypatch,
) -> None:
    monkeypatch.setenv("CXX", "sh")
    scheduled = dqn(learning_rate=lambda progress: 1e-3 * progress)
    assert not constant_learning_rate(scheduled)
    assert optimizers_to_compile(scheduled, run_config(10**7)) == []
    fused_adam = dqn(optimizer_class=torch.optim.Adam, optimizer_kwargs={})
    assert fused_adam.policy.optimizer.defaults.get("fused")  # wnrl's default for Adam
    assert optimizers_to_compile(fused_adam, run_config(10**7)) == []
    monkeypatch.setenv("CXX", "no-such-compiler-anywhere")
    assert cpp_compiler() is None
    plain = dqn()
    assert optimizers_to_compile(plain, run_config(10**7)) == []
    with pytest.raises(ConfigError, match="no C.. compiler found"):
        optimizers_to_compile(plain, run_config(100, "on"))
    with pytest.raises(ConfigError, match="no C.. compiler found"):
        build_config("dqn", "CartPole-v1", compile_optimizer="on")


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

    parser = build_parser()
    for argv, expected in (([], "auto"), (["--compile-optimizer", "off"], "off")):
        for command in (["train", "dqn"], ["sweep", "--agent", "dqn"]):
            args = parser.parse_args([*command, "CartPole-v1", *argv])
            assert args.compile_optimizer == expected


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
