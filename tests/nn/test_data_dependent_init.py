"""data_dependent_init and paper_init_ (paper sec. 3): every layer normalized in forward order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from wnrl.experiment.demo import nature_q_network as nature_cnn
from wnrl.layers import (
    MeanOnlyBatchNorm,
    WeightNormConv2d,
    WeightNormLinear,
    data_dependent_init,
    paper_init_,
    weight_norm,
    weight_norm_layers,
)


def preactivations(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Output of every Linear/Conv2d (or WN layer + mean-only BN pair) on x."""
    outputs: dict[str, torch.Tensor] = {}
    hooks = []
    for name, module in net.named_modules():
        is_pair = isinstance(module, nn.Sequential) and isinstance(module[-1], MeanOnlyBatchNorm)
        if is_pair or (
            isinstance(module, (WeightNormLinear, WeightNormConv2d, nn.Linear, nn.Conv2d))
            and not name.endswith(".0")
        ):
            hooks.append(
                module.register_forward_hook(
                    lambda m, i, o, name=name: outputs.__setitem__(name, o.detach())
                )
            )
    with torch.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()
    return outputs


def unit_stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dims = [0, *range(2, t.dim())]
    return t.mean(dim=dims), t.std(dim=dims, unbiased=False)


def test_data_dependent_init_normalizes_every_layer_in_order() -> None:
    torch.manual_seed(0)
    net = weight_norm(nature_cnn())
    paper_init_(net)
    for _, layer in weight_norm_layers(net):
        assert torch.all(layer.g == 1) and torch.all(layer.bias == 0)
    batch = torch.rand(64, 4, 84, 84)
    params_before = [id(p) for p in net.parameters()]
    optimizer = torch.optim.Adam(net.parameters())
    stats = data_dependent_init(net, batch, init_scale={"9": 0.01})
    assert list(stats) == ["0", "2", "4", "7", "9"]  # forward order
    assert [id(p) for p in net.parameters()] == params_before
    held = optimizer.param_groups[0]["params"]
    assert all(p is q for p, q in zip(held, net.parameters(), strict=True))
    outputs = preactivations(net, batch)
    for name, out in outputs.items():
        mean, std = unit_stats(out)
        scale = 0.01 if name == "9" else 1.0
        assert stats[name].init_scale == scale
        assert mean.abs().max() < 1e-3 * max(scale, 1e-1), name
        assert (std - scale).abs().max() < 1e-3, name
    # layer by layer: layer 2 was measured on the *normalized* output of layer 0, so the
    # statistics it reports are those of a ReLU of unit Gaussians, not of raw pixels
    assert stats["0"].std.mean() != pytest.approx(1.0, abs=0.05)
    assert 0.3 < stats["2"].std.mean() < 3.0
    # a held-out batch of the same distribution gets roughly the same normalization
    held_out = preactivations(net, torch.rand(64, 4, 84, 84))
    mean, std = unit_stats(held_out["7"])
    assert mean.abs().mean() < 0.2 and (std.mean() - 1.0).abs() < 0.2


def test_data_dependent_init_statistics_match_the_formula() -> None:
    torch.manual_seed(0)
    layer = WeightNormLinear(10, 4)
    x = torch.randn(200, 10) * 2 + 1
    t = x @ (layer.v / layer.v.norm(dim=1, keepdim=True)).T.detach()
    stats = data_dependent_init(layer, x, init_scale=0.5)[""]
    torch.testing.assert_close(stats.mean, t.mean(0))
    torch.testing.assert_close(stats.std, (t.var(0, unbiased=False) + 1e-8).sqrt())
    # g <- s / sigma, b <- -s mu / sigma (paper sec. 3)
    torch.testing.assert_close(layer.g.detach(), 0.5 / stats.std)
    torch.testing.assert_close(layer.bias.detach(), -0.5 * stats.mean / stats.std)


def test_data_dependent_init_on_plain_layers_and_callable_scales() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    x = torch.randn(128, 5) * 4
    stats = data_dependent_init(
        net, x, init_scale=lambda name, layer: 2.0 if layer.out_features == 3 else None
    )
    assert [s.kind for s in stats.values()] == ["Linear", "Linear"]
    out = preactivations(net, x)
    for name, scale in (("0", 1.0), ("2", 2.0)):
        mean, std = unit_stats(out[name])
        assert mean.abs().max() < 1e-4 and (std - scale).abs().max() < 1e-3
    skipped = nn.Sequential(nn.Linear(5, 4))
    assert data_dependent_init(skipped, x, include_plain=False) == {}


def test_data_dependent_init_with_mean_only_batch_norm() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3)), True)
    x = torch.randn(256, 5) + 2
    data_dependent_init(net, x)
    for mode in ("train", "eval"):
        getattr(net, mode)()
        for name, out in preactivations(net, x).items():
            mean, std = unit_stats(out)
            assert mean.abs().max() < 1e-4, (mode, name)
            assert (std - 1).abs().max() < 1e-3, (mode, name)


def test_data_dependent_init_glob_patterns_and_custom_forward() -> None:
    torch.manual_seed(0)
    net = nn.ModuleDict({"body": nn.Linear(3, 8), "head": nn.Linear(8, 2)})
    x = torch.randn(100, 3)
    stats = data_dependent_init(
        weight_norm(net),
        x,
        init_scale={"*": 0.5, "he*": 0.1},
        forward=lambda m, b: m["head"](torch.relu(m["body"](b))),
    )
    assert stats["body"].init_scale == 0.5 and stats["head"].init_scale == 0.1
    head_out = net["head"](torch.relu(net["body"](x))).detach()
    assert (head_out.std(0, unbiased=False) - 0.1).abs().max() < 1e-3
