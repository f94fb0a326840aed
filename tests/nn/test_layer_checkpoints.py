"""Weight-normalized layers' checkpoints: state dicts of torch's weight norms and of plain
layers load, round trips keep the function, copies and pickles start with the cache off."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations
from weight_norm_reference import infer

from wnrl.experiment.demo import nature_q_network as nature_cnn
from wnrl.layers import (
    WeightNormConv2d,
    WeightNormLinear,
    enable_inference_cache,
    weight_norm,
    weight_norm_layers,
)


def test_loads_torch_parametrizations_weight_norm_state_dict() -> None:
    torch.manual_seed(0)
    source = parametrizations.weight_norm(nn.Conv2d(3, 4, 3))
    with torch.no_grad():
        source.parametrizations.weight.original0.mul_(1.7)
    assert "parametrizations.weight.original0" in source.state_dict()
    ours = WeightNormConv2d(3, 4, 3)
    ours.load_state_dict(source.state_dict())
    x = torch.randn(2, 3, 7, 7)
    torch.testing.assert_close(ours(x), source(x))


def test_loads_deprecated_torch_weight_norm_state_dict() -> None:
    torch.manual_seed(0)
    with pytest.warns(FutureWarning):
        source = torch.nn.utils.weight_norm(nn.Linear(5, 3))
    with torch.no_grad():
        source.weight_g.mul_(0.3)
    assert {"weight_g", "weight_v"} <= set(source.state_dict())
    ours = WeightNormLinear(5, 3)
    ours.load_state_dict(source.state_dict())
    x = torch.randn(4, 5)
    torch.testing.assert_close(ours(x), source(x))


def test_loads_plain_layer_state_dict_into_whole_network() -> None:
    torch.manual_seed(0)
    plain = nature_cnn()
    ours = weight_norm(nature_cnn())
    ours.load_state_dict(plain.state_dict())
    x = torch.rand(2, 4, 84, 84)
    torch.testing.assert_close(ours(x), plain(x), rtol=1e-5, atol=1e-5)


def test_state_dict_round_trip_and_keys() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)))
    assert set(net.state_dict()) == {"0.v", "0.g", "0.bias", "2.v", "2.g", "2.bias"}
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    buffer.seek(0)
    other = weight_norm(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)))
    other.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(5, 4)
    torch.testing.assert_close(other(x), net(x))


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_deepcopy_and_pickle(clone) -> None:
    torch.manual_seed(0)
    net = weight_norm(nature_cnn())
    x = torch.rand(2, 4, 84, 84)
    enable_inference_cache(net)
    expected = infer(net, x)  # fills the caches
    copied = clone(net)
    torch.testing.assert_close(infer(copied, x), expected)
    for _, layer in weight_norm_layers(copied):
        assert type(layer.v) is nn.Parameter and type(layer.g) is nn.Parameter
        assert not layer.cache_inference  # a copy (often a target network) starts uncached
    # independent parameters: changing the copy leaves the original alone
    with torch.no_grad():
        copied[9].g.mul_(2.0)
    torch.testing.assert_close(infer(net, x), expected)
    assert not torch.allclose(infer(copied, x), expected)
