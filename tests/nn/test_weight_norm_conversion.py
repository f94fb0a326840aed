"""weight_norm / remove_weight_norm: any module converted in place and back, its function
unchanged (mean-only batch norm folded into the bias on removal)."""

from __future__ import annotations

import torch
from torch import nn

from wnrl.experiment.demo import nature_q_network as nature_cnn
from wnrl.layers import (
    MeanOnlyBatchNorm,
    WeightNormLinear,
    is_weight_normalized,
    remove_weight_norm,
    weight_norm,
    weight_norm_layers,
)


def test_weight_norm_conversion_preserves_function_and_remove_inverts_it() -> None:
    torch.manual_seed(0)
    net = nature_cnn()
    x = torch.rand(3, 4, 84, 84)
    before = net(x).detach()
    assert weight_norm(net) is net
    layers = dict(weight_norm_layers(net))
    assert sorted(layers) == ["0", "2", "4", "7", "9"]
    assert all(is_weight_normalized(m) for m in layers.values())
    assert not any(isinstance(m, (nn.Linear, nn.Conv2d)) for m in net.modules())
    torch.testing.assert_close(net(x), before, rtol=1e-5, atol=1e-5)
    # after training-like changes of g, removal still gives the same function
    with torch.no_grad():
        for layer in layers.values():
            layer.g.mul_(torch.rand_like(layer.g) + 0.5)
    changed = net(x).detach()
    remove_weight_norm(net)
    assert not list(weight_norm_layers(net))
    assert {type(m) for m in net.modules()} >= {nn.Linear, nn.Conv2d}
    torch.testing.assert_close(net(x), changed, rtol=1e-5, atol=1e-5)


def test_weight_norm_on_a_bare_layer_returns_the_replacement() -> None:
    plain = nn.Linear(3, 2)
    converted = weight_norm(plain)
    assert isinstance(converted, WeightNormLinear)
    x = torch.randn(4, 3)
    torch.testing.assert_close(converted(x), plain(x))
    assert isinstance(remove_weight_norm(converted), nn.Linear)


def test_mean_only_bn_conversion_and_fold() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))
    x = torch.randn(16, 6)
    before = net(x).detach()
    weight_norm(net, mean_only_bn=True)
    pair = net[0]
    assert isinstance(pair[0], WeightNormLinear) and pair[0].bias is None
    assert isinstance(pair[1], MeanOnlyBatchNorm)
    net.eval()  # running mean 0: the function is unchanged
    torch.testing.assert_close(net(x), before)
    net.train()
    for _ in range(5):
        net(torch.randn(16, 6) + 3.0)  # move the running means
    net.eval()
    expected = net(x).detach()
    remove_weight_norm(net)
    assert isinstance(net[0], nn.Linear) and isinstance(net[2], nn.Linear)
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-5)
