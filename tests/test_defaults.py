"""wnrl's learning defaults: plain output heads under weight norm, the paper's all-WN network
by name, models saved with the older default load as saved, and ``wn+proj``'s projection."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from small_models import ALGOS, build, env_id, optimizers_of, structure
from stable_baselines3.common.envs import IdentityEnv
from stable_baselines3.common.evaluation import evaluate_policy
from torch import nn

from wnrl.callbacks import DataDependentInit
from wnrl.experiment.config import build_config
from wnrl.experiment.presets import agent_presets
from wnrl.layers import WeightNormLinear, weight_norm, weight_norm_layers
from wnrl.nn.projection import project_after_steps, project_directions_


def direction_norms(module: nn.Module) -> list[torch.Tensor]:
    return [
        torch.linalg.vector_norm(layer.v.detach().flatten(1), dim=1)
        for _, layer in weight_norm_layers(module)
    ]


@pytest.mark.parametrize("algo", list(ALGOS))
def test_weight_norm_leaves_the_output_heads_plain_by_default(algo: str, tmp_path) -> None:
    model = build(algo, norm="wn")
    heads = model.policy.output_heads()
    assert model.policy.plain_heads
    assert heads and all(type(head) is nn.Linear for head in heads)
    hidden = [m for m in model.policy.modules() if isinstance(m, WeightNormLinear)]
    assert hidden and not any(m in heads for m in hidden)
    model.learn(48, callback=DataDependentInit(n_samples=16))  # DDI rescales plain heads too
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = ALGOS[algo].load(path)
    assert loaded.policy.plain_heads and structure(loaded.policy) == structure(model.policy)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_the_papers_network_weight_normalizes_the_heads_too(algo: str) -> None:
    model = build(algo, norm="wn", plain_heads=False)
    heads = model.policy.output_heads()
    assert heads and all(isinstance(head, WeightNormLinear) for head in heads)


def test_the_paper_preset_asks_for_the_papers_network() -> None:
    assert agent_presets("dqn")["paper"]["policy_kwargs"]["plain_heads"] is False
    config = build_config("dqn", "BreakoutNoFrameskip-v4", norm="wn", preset="paper")
    assert config["policy_kwargs"]["plain_heads"] is False
    assert "plain_heads" not in build_config("dqn", "CartPole-v1", norm="wn")["policy_kwargs"]


@pytest.mark.parametrize("algo", list(ALGOS))
def test_a_model_saved_with_weight_normalized_heads_loads_as_saved(algo: str, tmp_path) -> None:
    """A model of the older default (every head weight-normalized, no ``plain_heads`` in its
    policy_kwargs) rebuilt by today's default: same heads, predictions and optimizer state."""
    old = build(algo, norm="wn", plain_heads=False)
    old.learn(48)
    path = tmp_path / "old.zip"
    old.save(path)
    env = gym.make(env_id(algo))
    obs = np.stack([env.observation_space.sample() for _ in range(16)])
    kwargs = {k: v for k, v in old.policy_kwargs.items() if k != "plain_heads"}
    loaded = ALGOS[algo].load(path, env=env, custom_objects={"policy_kwargs": kwargs})
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
    old_stepped = [
        p for opt in optimizers_of(old.policy) for g in opt.param_groups for p in g["params"]
    ]
    assert len(stepped) == len(old_stepped)  # the new head parameters took the old ones' places
    assert {id(p) for p in stepped} <= {id(p) for p in policy.parameters()}
    loaded.learn(48, reset_num_timesteps=False)
    resaved = tmp_path / "resaved.zip"
    loaded.save(resaved)
    assert not ALGOS[algo].load(resaved).policy.plain_heads


# --- wn+proj: Normalize-and-Project -----------------------------------------------------------


def test_projection_keeps_the_function_and_unit_directions_after_steps() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Conv2d(2, 4, 3), nn.Flatten(), nn.Linear(4 * 9, 3)))
    with torch.no_grad():
        for _, layer in weight_norm_layers(net):
            layer.v.mul_(3.0)  # ||v|| = 3 ||w||: a direction far from unit norm
    x = torch.randn(5, 2, 5, 5)
    before = net(x).detach()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.1)
    assert project_after_steps(optimizer, net) is not None
    assert project_after_steps(optimizer, net) is None  # idempotent
    torch.testing.assert_close(net(x), before)  # projected at once, function unchanged
    for norms in direction_norms(net):
        torch.testing.assert_close(norms, torch.ones_like(norms))
    for _ in range(5):
        optimizer.zero_grad()
        net(x).square().sum().backward()
        optimizer.step()
        for norms in direction_norms(net):
            torch.testing.assert_close(norms, torch.ones_like(norms))


def test_without_projection_the_direction_norm_grows() -> None:
    """Paper sec. 2.1: a gradient step is orthogonal to v, so ||v|| grows (what wn+proj undoes)."""
    torch.manual_seed(0)
    net = weight_norm(nn.Linear(8, 4))
    project_directions_(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    x = torch.randn(32, 8)
    for _ in range(5):
        optimizer.zero_grad()
        net(x).square().sum().backward()
        optimizer.step()
    assert (direction_norms(net)[0] > 1.0 + 1e-4).all()


def test_projection_skips_layers_the_optimizer_does_not_step() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)))
    with torch.no_grad():
        net[1].v.mul_(2.0)
    untouched = direction_norms(net)[1]
    optimizer = torch.optim.SGD(net[0].parameters(), lr=0.1)
    project_after_steps(optimizer, net)
    first, second = direction_norms(net)
    torch.testing.assert_close(first, torch.ones_like(first))
    assert not torch.allclose(untouched, torch.ones_like(untouched))
    torch.testing.assert_close(second, untouched)


def trained_networks(policy: nn.Module) -> list[nn.Module]:
    """The networks an optimizer steps (targets are copies, never stepped)."""
    names = ("q_net", "quantile_net", "actor", "critic")
    found = [getattr(policy, name) for name in names if hasattr(policy, name)]
    return found or [policy]  # PPO / A2C: the whole policy


def assert_unit_directions(policy: nn.Module) -> None:
    norms = [n for network in trained_networks(policy) for n in direction_norms(network)]
    assert norms
    for n in norms:
        torch.testing.assert_close(n, torch.ones_like(n))


@pytest.mark.parametrize("algo", list(ALGOS))
def test_wn_proj_policies_keep_unit_directions_while_training(algo: str, tmp_path) -> None:
    model = build(algo, norm="wn+proj")
    assert_unit_directions(model.policy)
    model.learn(64, callback=DataDependentInit(n_samples=16))
    assert_unit_directions(model.policy)
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = ALGOS[algo].load(path, env=model.get_env())
    assert loaded.policy.norm == "wn+proj"
    loaded.learn(32, reset_num_timesteps=False)
    assert_unit_directions(loaded.policy)


# --- a PPO identity run that learns with the default wn ---------------------------------------


def test_ppo_learns_the_identity_env_with_weight_norm() -> None:
    """SB3's learn-at-all check (``tests/test_identity.py``: the rewarded action is the
    observation), at a budget that fits the suite, as `wnrl train` runs PPO: no data-dependent
    init (the PPO presets' default)."""
    assert build_config("ppo", "CartPole-v1", norm="wn")["ddi"] is False
    torch.set_num_threads(1)
    env = IdentityEnv(4)
    model = ALGOS["ppo"](
        "WNMlpPolicy", env, gamma=0.4, seed=0, n_steps=256, batch_size=64, n_epochs=4,
        learning_rate=1e-3, policy_kwargs={"net_arch": [32]},
    )  # fmt: skip
    before, _ = evaluate_policy(model, env, n_eval_episodes=5, warn=False)
    model.learn(2_048)
    after, _ = evaluate_policy(model, env, n_eval_episodes=5, warn=False)
    assert after >= 90.0, (before, after)
    assert after > before + 30.0


@pytest.mark.parametrize("agent", ["dqn", "qrdqn", "ppo", "a2c"])
def test_rl_zoo_atari_presets_end_the_learning_episode_on_a_lost_life(agent: str) -> None:
    """RL Zoo wraps Atari in SB3's AtariWrapper, whose default is terminal_on_life_loss=True."""
    config = build_config(agent, "BreakoutNoFrameskip-v4", norm="wn")
    assert config["preset"] == "atari"
    assert config["env_kwargs"] == {"terminal_on_life_loss": True}
    if agent == "dqn":  # the paper's preset follows the paper, not RL Zoo
        paper = build_config(agent, "BreakoutNoFrameskip-v4", norm="wn", preset="paper")
        assert paper["env_kwargs"] == {}


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


def test_ddi_heads_is_a_run_setting_older_runs_read_as_scale(tmp_path) -> None:
    from wnrl.errors import ConfigError
    from wnrl.experiment.rundir import read_config

    assert build_config("ppo", "CartPole-v1", ddi_heads="keep")["ddi_heads"] == "keep"
    assert build_config("ppo", "CartPole-v1")["ddi_heads"] == "scale"
    with pytest.raises(ConfigError, match="--ddi-heads must be one of scale, keep"):
        build_config("ppo", "CartPole-v1", ddi_heads="maybe")
    old = tmp_path / "config.yaml"
    old.write_text("agent: ppo\nenv: CartPole-v1\nnorm: wn\nseed: 0\nddi: true\n")
    assert read_config(old)["ddi_heads"] == "scale"


@pytest.mark.parametrize("agent", ["ppo", "a2c"])
def test_on_policy_presets_train_weight_norm_without_the_init(agent: str) -> None:
    """PPO and A2C: no data-dependent init by default (with it WN PPO learns Breakout 3x worse;
    README, Results); ``ddi=True`` (``--ddi``) brings it back; every preset of theirs says so."""
    env = {"ppo": "CartPole-v1", "a2c": "CartPole-v1"}[agent]
    assert build_config(agent, env, norm="wn")["ddi"] is False
    assert build_config(agent, env, norm="wn", ddi=True)["ddi"] is True
    assert build_config(agent, "Pendulum-v1", norm="wn+mobn")["ddi"] is False
    assert all(preset.get("ddi") is False for preset in agent_presets(agent).values())


@pytest.mark.parametrize(
    "agent,env", [("dqn", "CartPole-v1"), ("qrdqn", "CartPole-v1"), ("sac", "Pendulum-v1")]
)
def test_other_agents_keep_the_papers_init(agent: str, env: str) -> None:
    assert build_config(agent, env, norm="wn")["ddi"] is True
    assert build_config(agent, env, norm="none")["ddi"] is False
    assert build_config(agent, env, norm="wn", ddi=False)["ddi"] is False


def test_a_preset_ddi_that_is_not_a_bool_is_a_config_error(monkeypatch) -> None:
    from wnrl.errors import ConfigError
    from wnrl.experiment import config

    presets = {"classic": {**agent_presets("ppo")["classic"], "ddi": "no"}}
    monkeypatch.setattr(
        config, "select_preset", lambda agent, family, name: ("classic", presets["classic"])
    )
    with pytest.raises(ConfigError, match="preset key ddi must be true or false"):
        build_config("ppo", "CartPole-v1", norm="wn")


def test_cli_ddi_flags_choose_the_init_and_exclude_each_other(tmp_path, capsys) -> None:
    from wnrl.cli import main
    from wnrl.experiment.rundir import CONFIG, read_config

    argv = ["train", "ppo", "CartPole-v1", "--steps", "64", "--logdir", str(tmp_path)]
    argv += ["--hp", "n_steps=16", "--eval-every", "0", "--checkpoint-every", "0", "--seed", "1"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--ddi", "--no-ddi"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main([*argv, "--ddi"]) == 0
    (config_path,) = tmp_path.rglob(CONFIG)
    assert read_config(config_path)["ddi"] is True
