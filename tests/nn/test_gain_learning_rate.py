"""``gain_lr_scale``: the gains ``g`` of weight-normalized layers at their own learning rate (the
ablation of issue 13's "should g learn at the same rate" suspect), through torch optimizers,
SB3's learning-rate schedule, the six algorithms' save/load and the CLI's errors."""

from __future__ import annotations

import pytest
import torch
from small_models import ALGOS, build, optimizers_of
from stable_baselines3.common.utils import update_learning_rate
from torch import nn

import wnrl
from wnrl.cli import main as cli_main
from wnrl.errors import ConfigError
from wnrl.layers import weight_norm, weight_norm_layers
from wnrl.nn.gain_learning_rate import GAIN_LR_SCALE_KEY, scale_gain_learning_rate


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return weight_norm(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)))


def sgd_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor) -> None:
    optimizer.zero_grad()
    net(x).square().sum().backward()
    optimizer.step()


def gains(net: nn.Module) -> list[torch.Tensor]:
    return [layer.g.detach().clone() for _, layer in weight_norm_layers(net)]


def directions(net: nn.Module) -> list[torch.Tensor]:
    return [layer.v.detach().clone() for _, layer in weight_norm_layers(net)]


def test_sgd_moves_g_by_the_scale_times_the_plain_step_and_v_as_before() -> None:
    """Under SGD a step is lr x gradient, so g's step is exactly ``scale`` times the unscaled
    one (same gradient: the first step starts from the same weights) and v's is unchanged."""
    x = torch.randn(16, 6)
    plain, scaled = small_net(), small_net()
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.1)
    scaled_opt = torch.optim.SGD(scaled.parameters(), lr=0.1)
    assert scale_gain_learning_rate(scaled_opt, scaled, 0.25) is not None
    g0, v0 = gains(plain), directions(plain)
    sgd_step(plain, plain_opt, x)
    sgd_step(scaled, scaled_opt, x)
    for before, after_plain, after_scaled in zip(g0, gains(plain), gains(scaled), strict=True):
        torch.testing.assert_close(after_scaled - before, 0.25 * (after_plain - before))
        assert (after_plain - before).abs().max() > 1e-4  # the plain step did move g
    for after_plain, after_scaled in zip(directions(plain), directions(scaled), strict=True):
        torch.testing.assert_close(after_scaled, after_plain)
    assert not torch.equal(directions(plain)[0], v0[0])


@pytest.mark.parametrize("kernel", [{"fused": True}, {"foreach": True}, {"foreach": False}])
def test_scale_zero_freezes_g_under_adam_and_follows_a_schedule(kernel: dict) -> None:
    net = small_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, **kernel)
    scale_gain_learning_rate(optimizer, net, 0.0)
    assert scale_gain_learning_rate(optimizer, net, 0.0) is None  # idempotent
    gain_groups = [g for g in optimizer.param_groups if GAIN_LR_SCALE_KEY in g]
    assert len(gain_groups) == 1 and len(gain_groups[0]["params"]) == 2
    g0, v0 = gains(net), directions(net)
    x = torch.randn(16, 6)
    for _ in range(3):
        sgd_step(net, optimizer, x)
    for before, after in zip(g0, gains(net), strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=0)
    assert all(not torch.equal(a, b) for a, b in zip(v0, directions(net), strict=True))


def test_the_gain_rate_follows_sb3s_schedule_at_every_step() -> None:
    """SB3's ``update_learning_rate`` writes one rate into every group; the scale is reapplied
    before each step."""
    net = small_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scale_gain_learning_rate(optimizer, net, 3.0)
    update_learning_rate(optimizer, 0.02)
    sgd_step(net, optimizer, torch.randn(4, 6))
    rates = sorted(group["lr"] for group in optimizer.param_groups)
    assert rates == pytest.approx([0.02, 0.06])


def test_the_split_needs_a_fresh_optimizer_and_a_valid_scale() -> None:
    net = small_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    sgd_step(net, optimizer, torch.randn(4, 6))
    with pytest.raises(ValueError, match="took no step"):
        scale_gain_learning_rate(optimizer, net, 0.5)
    for bad in (-1.0, float("nan"), float("inf"), "fast", True):
        with pytest.raises(ValueError, match="gain_lr_scale"):
            scale_gain_learning_rate(torch.optim.SGD(net.parameters(), lr=0.1), net, bad)


def online_gains(policy: nn.Module) -> dict[str, torch.Tensor]:
    """g of every layer an optimizer steps (targets follow the online networks by copy)."""
    return {
        name: layer.g.detach().clone()
        for name, layer in weight_norm_layers(policy)
        if "target" not in name
    }


@pytest.mark.slow
@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_algorithm_trains_v_with_g_frozen_and_loads_the_setting(algo: str, tmp_path) -> None:
    model = build(algo, norm="wn", gain_lr_scale=0.0)
    optimizers = optimizers_of(model.policy)
    assert optimizers and all(
        any(GAIN_LR_SCALE_KEY in group for group in opt.param_groups) for opt in optimizers
    )
    g0 = online_gains(model.policy)
    v0 = {name: layer.v.detach().clone() for name, layer in weight_norm_layers(model.policy)}
    model.learn(96)
    for name, value in online_gains(model.policy).items():
        torch.testing.assert_close(value, g0[name], rtol=0, atol=0, msg=name)
    moved = [n for n, layer in weight_norm_layers(model.policy) if not torch.equal(layer.v, v0[n])]
    assert moved
    path = tmp_path / "model.zip"
    model.save(path)
    loaded = ALGOS[algo].load(path, env=model.get_env())
    assert loaded.policy.gain_lr_scale == 0.0
    groups = [len(opt.param_groups) for opt in optimizers_of(loaded.policy)]
    assert groups == [len(opt.param_groups) for opt in optimizers]
    safe = wnrl.load(path, weights_only=True)  # never unpickles: the setting is data
    assert safe.policy.gain_lr_scale == 0.0
    g1 = online_gains(loaded.policy)
    loaded.learn(64, reset_num_timesteps=False)
    for name, value in online_gains(loaded.policy).items():
        torch.testing.assert_close(value, g1[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("algo", ["dqn", "sac"])
def test_the_default_keeps_sb3s_single_group(algo: str) -> None:
    model = build(algo, norm="wn")
    assert model.policy.gain_lr_scale == 1.0
    assert all(len(opt.param_groups) == 1 for opt in optimizers_of(model.policy))
    assert "gain_lr_scale" not in model.policy._get_constructor_parameters()


def test_a_bad_scale_is_a_config_error_and_a_one_line_cli_error(tmp_path, capsys) -> None:
    with pytest.raises(ConfigError, match="gain_lr_scale"):
        build("dqn", norm="wn", gain_lr_scale=-0.5)
    code = cli_main(
        ["train", "dqn", "CartPole-v1", "--steps", "64", "--logdir", str(tmp_path),
         "--hp", "policy_kwargs.gain_lr_scale=-1"]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and "gain_lr_scale" in err and len(err.splitlines()) == 1
