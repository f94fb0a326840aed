"""wnrl.layers against the paper's formulas (Salimans & Kingma 2016, eq. 2-4, sec. 3-4)."""

from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

import wnrl.layers as layers_module
import wnrl.nn.functional as functional
import wnrl.nn.layers as nn_layers
from wnrl.experiment.demo import nature_q_network as nature_cnn
from wnrl.layers import (
    DEFAULT_EPS,
    MeanOnlyBatchNorm,
    WeightNormConv2d,
    WeightNormLinear,
    clear_inference_cache,
    data_dependent_init,
    enable_inference_cache,
    inference_cache,
    is_weight_normalized,
    paper_init_,
    remove_weight_norm,
    track_optimizer_writes,
    weight_norm,
    weight_norm_layers,
)


@pytest.fixture(params=["weight", "cheap"])
def linear_form(request, monkeypatch) -> str:
    """Run a test on both WeightNormLinear paths: F.linear with the normalized weight (small
    layers) and eq. 3's cheap form (large layers), by moving the size threshold."""
    if request.param == "cheap":
        monkeypatch.setattr(nn_layers, "CHEAP_FORM_MIN_WEIGHTS", 0)
    return request.param


def explicit_weight(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Paper eq. 2 written out: w = g v / ||v|| per output unit."""
    norms = v.reshape(v.shape[0], -1).pow(2).sum(dim=1).sqrt()
    return v * (g / norms).reshape(-1, *([1] * (v.dim() - 1)))


def random_layers(dtype: torch.dtype) -> list[nn.Module]:
    torch.manual_seed(0)
    layers = [
        WeightNormLinear(7, 5, dtype=dtype),
        WeightNormConv2d(3, 6, 3, stride=2, padding=1, dtype=dtype),
        WeightNormConv2d(4, 8, (3, 2), dilation=2, groups=2, bias=False, dtype=dtype),
    ]
    with torch.no_grad():
        for layer in layers:
            layer.g.uniform_(0.5, 2.0)  # g != ||v||, so the normalization matters
    return layers


def input_for(layer: nn.Module, dtype: torch.dtype, batch: int = 4) -> torch.Tensor:
    if isinstance(layer, WeightNormLinear):
        return torch.randn(batch, layer.in_features, dtype=dtype)
    return torch.randn(batch, layer.in_channels, 9, 9, dtype=dtype)


def reference_forward(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    if isinstance(layer, WeightNormLinear):
        return nn.functional.linear(x, weight, layer.bias)
    return nn.functional.conv2d(
        x, weight, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups
    )


# --- eq. 2: the forward pass --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_equals_explicit_reparameterization(dtype: torch.dtype, linear_form: str) -> None:
    for layer in random_layers(dtype):
        x = input_for(layer, dtype)
        expected = reference_forward(layer, x, explicit_weight(layer.v, layer.g))
        out = layer(x)
        assert out.dtype == dtype
        torch.testing.assert_close(out, expected)
        with torch.no_grad():  # the cached inference path gives the same numbers
            torch.testing.assert_close(layer(x), expected)


def test_weight_norm_equals_g() -> None:
    for layer in random_layers(torch.float64):
        norms = layer.weight.reshape(layer.weight.shape[0], -1).norm(dim=1)
        torch.testing.assert_close(norms, layer.g.detach().abs())


def test_weight_is_read_only() -> None:
    layer = WeightNormLinear(3, 2)
    with pytest.raises(AttributeError):
        layer.weight = torch.zeros(2, 3)


# --- eq. 3-4: the gradients --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_match_paper_equations(dtype: torch.dtype, linear_form: str) -> None:
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == torch.float32 else {}
    for layer in random_layers(dtype):
        x = input_for(layer, dtype)
        upstream = torch.randn_like(layer(x))
        # grad_w from a plain layer holding the same effective weight
        w = explicit_weight(layer.v, layer.g).detach().requires_grad_(True)
        (reference_forward(layer, x, w) * upstream).sum().backward()
        grad_w = w.grad.reshape(w.shape[0], -1)
        (layer(x) * upstream).sum().backward()

        v = layer.v.detach().reshape(layer.v.shape[0], -1)
        g = layer.g.detach()
        v_norm = v.norm(dim=1, keepdim=True)
        # eq. 3: grad_g = (grad_w . v) / ||v||
        grad_g = (grad_w * v).sum(dim=1) / v_norm.squeeze(1)
        # eq. 4: grad_v = g/||v|| M_w grad_w, M_w = I - w w'/||w||^2
        w_flat = w.detach().reshape(w.shape[0], -1)
        proj = (w_flat * grad_w).sum(dim=1, keepdim=True) / (w_flat * w_flat).sum(1, keepdim=True)
        grad_v = (g.unsqueeze(1) / v_norm) * (grad_w - proj * w_flat)
        torch.testing.assert_close(layer.g.grad, grad_g, **tol)
        torch.testing.assert_close(layer.v.grad.reshape_as(grad_v), grad_v, **tol)
        # sec. 2.1: the gradient with respect to v is orthogonal to w
        cosine = (layer.v.grad.reshape_as(w_flat) * w_flat).sum(1) / (
            layer.v.grad.reshape_as(w_flat).norm(dim=1) * w_flat.norm(dim=1)
        )
        assert cosine.abs().max() < 1e-4


def test_cheap_form_backward_is_the_derivative() -> None:
    """gradcheck of eq. 3's cheap form (finite differences, float64), the dependence of
    ``||v||`` on ``v`` included although the norms enter the function precomputed."""
    torch.manual_seed(0)
    x, v = torch.randn(3, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    g, b = torch.rand(4, dtype=torch.float64) + 0.5, torch.randn(4, dtype=torch.float64)
    inputs = tuple(t.requires_grad_(True) for t in (x, v, g, b))

    def cheap(x, v, g, b):
        norms = functional.unit_norms(v.detach(), DEFAULT_EPS)
        return functional.WeightNormLinearFunction.apply(x, v, g, b, norms)

    assert torch.autograd.gradcheck(cheap, inputs)


def test_train_steps_interleaved_with_acting_have_exact_gradients(linear_form: str) -> None:
    """Acting (cached weights / norms) between fused-optimizer steps never leaks into the
    gradients, and an inference-mode forward does not poison the next train step."""
    torch.manual_seed(0)
    layer = WeightNormLinear(6, 4, dtype=torch.float64)
    enable_inference_cache(layer)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1, fused=True)
    track_optimizer_writes(optimizer)
    x = torch.randn(5, 6, dtype=torch.float64)
    for step in range(3):
        if step == 1:
            with torch.inference_mode():
                layer(x)
        infer(layer, x)  # act: cached tensors of the current v
        optimizer.zero_grad()
        layer(x).square().sum().backward()
        v, g = layer.v.detach().clone().requires_grad_(True), layer.g.detach().clone()
        g.requires_grad_(True)
        bias = layer.bias.detach().clone().requires_grad_(True)
        nn.functional.linear(x, explicit_weight(v, g), bias).square().sum().backward()
        torch.testing.assert_close(layer.v.grad, v.grad)
        torch.testing.assert_close(layer.g.grad, g.grad)
        optimizer.step()  # fused: v changes without a version bump of its own
        torch.testing.assert_close(infer(layer, x), fresh(layer, x))


def test_matches_torch_weight_norm_outputs_and_gradients() -> None:
    torch.manual_seed(1)
    plain = nn.Conv2d(3, 5, 3)
    ours = WeightNormConv2d.from_conv(plain)
    theirs = parametrizations.weight_norm(copy.deepcopy(plain))
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(ours(x), theirs(x))
    ours(x).square().sum().backward()
    theirs(x).square().sum().backward()
    original = theirs.parametrizations.weight
    torch.testing.assert_close(ours.g.grad, original.original0.grad.reshape(-1))
    torch.testing.assert_close(ours.v.grad, original.original1.grad)


def test_zero_norm_direction_stays_finite(linear_form: str) -> None:
    layer = WeightNormLinear(4, 3)
    with torch.no_grad():
        layer.v[1].zero_()
    x = torch.randn(5, 4)
    out = layer(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, 1], layer.bias[1].expand(5).detach())
    out.sum().backward()
    assert torch.isfinite(layer.v.grad).all() and torch.isfinite(layer.g.grad).all()
    with torch.no_grad():
        assert torch.isfinite(layer(x)).all()


# --- converting modules --------------------------------------------------------------------


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


# --- sec. 4: mean-only batch norm ---------------------------------------------------------


def test_mean_only_batch_norm_train_and_eval() -> None:
    bn = MeanOnlyBatchNorm(3)
    with torch.no_grad():
        bn.bias.copy_(torch.tensor([1.0, -2.0, 0.5]))
    x = torch.randn(10, 3, 4, 4) * 3 + torch.tensor([5.0, -1.0, 2.0]).view(1, 3, 1, 1)
    out = bn(x)
    batch_mean = x.mean(dim=(0, 2, 3))
    # training: subtract the minibatch mean (over batch and space), no division by the std
    torch.testing.assert_close(out, x - batch_mean.view(1, 3, 1, 1) + bn.bias.view(1, 3, 1, 1))
    torch.testing.assert_close(out.std(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)))  # no rescaling
    # running average: avg <- 0.9 avg + 0.1 mu (reference code)
    torch.testing.assert_close(bn.running_mean, 0.1 * batch_mean)
    x2 = torch.randn(10, 3, 4, 4)
    bn(x2)
    torch.testing.assert_close(bn.running_mean, 0.9 * 0.1 * batch_mean + 0.1 * x2.mean((0, 2, 3)))
    bn.eval()
    y = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(
        bn(y), y - bn.running_mean.view(1, 3, 1, 1) + bn.bias.view(1, 3, 1, 1)
    )
    flat = MeanOnlyBatchNorm(5)
    z = torch.randn(7, 5)
    torch.testing.assert_close(flat(z), z - z.mean(0))
    with pytest.raises(ValueError, match=r"expected \(N, 5"):
        flat(torch.randn(7, 4))


# --- sec. 3: data-dependent initialization ------------------------------------------------


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


# --- the inference cache is never stale ---------------------------------------------------


def infer(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x)


def fresh(layer: WeightNormLinear, x: torch.Tensor) -> torch.Tensor:
    return nn.functional.linear(x, explicit_weight(layer.v, layer.g).detach(), layer.bias)


def test_cache_is_reused_when_nothing_changed() -> None:
    layer = WeightNormLinear(6, 4)
    with torch.no_grad():
        assert layer.weight is not layer.weight  # off by default: nothing is kept
    assert enable_inference_cache(layer) == 1
    with torch.no_grad():
        first = layer.weight
        assert layer.weight is first  # no renormalization on the act path
    assert layer.weight is not first  # autograd on: rebuilt, differentiable
    assert layer.weight.requires_grad


def _every_torch_optimizer() -> list[tuple[type[torch.optim.Optimizer], dict]]:
    """Every optimizer class torch.optim exports, with each implementation it accepts."""
    import inspect

    found = []
    for name in dir(torch.optim):
        cls = getattr(torch.optim, name)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            continue
        if cls in (torch.optim.Optimizer, torch.optim.SparseAdam):  # SparseAdam: sparse grads
            continue
        accepted = inspect.signature(cls.__init__).parameters
        variants = [{}]
        if "foreach" in accepted:
            variants += [{"foreach": True}, {"foreach": False}]
        if "fused" in accepted:
            variants.append({"fused": True})
        found += [(cls, kwargs) for kwargs in variants]
    return found


@pytest.mark.parametrize(
    "optimizer_cls,kwargs",
    _every_torch_optimizer(),
    ids=lambda item: item.__name__ if isinstance(item, type) else str(item),
)
def test_cache_follows_every_torch_optimizer(optimizer_cls, kwargs, linear_form: str) -> None:
    """Fused kernels write without bumping version counters: track_optimizer_writes' step hook
    on the optimizer instance makes those steps visible too."""
    torch.manual_seed(0)
    layer = WeightNormLinear(6, 4)
    enable_inference_cache(layer)
    x = torch.randn(3, 6)
    try:
        optimizer = optimizer_cls(layer.parameters(), lr=0.1, **kwargs)
    except (RuntimeError, ValueError) as error:  # e.g. a fused kernel this device lacks
        pytest.skip(f"{optimizer_cls.__name__}({kwargs}) unavailable here: {error}")
    track_optimizer_writes(optimizer)
    assert track_optimizer_writes(optimizer) is None  # idempotent
    for _ in range(2):
        before = infer(layer, x)

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            loss = layer(x).square().sum()
            loss.backward()
            return loss

        closure()
        optimizer.step(closure) if optimizer_cls is torch.optim.LBFGS else optimizer.step()
        after = infer(layer, x)
        torch.testing.assert_close(after, fresh(layer, x))
        assert not torch.allclose(after, before)


def test_cache_follows_load_state_dict_and_in_place_writes(linear_form: str) -> None:
    torch.manual_seed(0)
    layer, other = WeightNormLinear(6, 4), WeightNormLinear(6, 4)
    enable_inference_cache(layer)
    x = torch.randn(3, 6)
    infer(layer, x)
    layer.load_state_dict(other.state_dict())
    torch.testing.assert_close(infer(layer, x), infer(other, x))
    with torch.no_grad():
        layer.g.mul_(2.0)  # in-place under no_grad: a version bump
    torch.testing.assert_close(infer(layer, x), fresh(layer, x))
    with torch.no_grad():
        layer.v.copy_(torch.randn(4, 6))
    torch.testing.assert_close(infer(layer, x), fresh(layer, x))
    # assignment to .data and dtype moves change the storage
    layer.v.data = torch.randn(4, 6)
    torch.testing.assert_close(infer(layer, x), fresh(layer, x))
    layer.double()
    torch.testing.assert_close(infer(layer, x.double()), fresh(layer, x.double()))


def test_target_networks_follow_sb3_polyak_update_with_the_cache_off(linear_form: str) -> None:
    """SB3 writes targets through ``.data`` aliases (no version bump): with the cache off, as
    the wnrl policies leave it on targets, every such write is seen."""
    from stable_baselines3.common.utils import polyak_update

    torch.manual_seed(0)
    online, target = WeightNormLinear(6, 4), WeightNormLinear(6, 4)
    x = torch.randn(3, 6)
    stale = infer(target, x)
    polyak_update(online.parameters(), target.parameters(), tau=1.0)
    torch.testing.assert_close(infer(target, x), infer(online, x))
    assert not torch.allclose(infer(target, x), stale)
    with torch.no_grad():
        online.g.mul_(3.0)
    polyak_update(online.parameters(), target.parameters(), tau=0.5)
    torch.testing.assert_close(infer(target, x), fresh(target, x))


def test_writes_through_data_aliases_need_clear_inference_cache(linear_form: str) -> None:
    """The documented limit of the cache, and its remedy."""
    torch.manual_seed(0)
    net = nn.Sequential(WeightNormLinear(6, 4))
    layer = net[0]
    enable_inference_cache(net)
    x = torch.randn(3, 6)
    before = infer(net, x)
    layer.g.data.mul_(2.0)  # no version bump: unseen
    torch.testing.assert_close(infer(net, x), before)
    clear_inference_cache(net)
    torch.testing.assert_close(infer(net, x), fresh(layer, x))


def test_scoped_inference_cache_restores_and_drops() -> None:
    layer = WeightNormLinear(6, 4)
    with inference_cache(layer):
        with torch.no_grad():
            assert layer.weight is layer.weight
    assert not layer.cache_inference and layer._cache is None
    enable_inference_cache(layer)
    with inference_cache(layer):
        pass
    assert layer.cache_inference  # the setting before the block


def test_cache_holds_one_tensor_per_layer_however_long_it_runs() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2)))
    enable_inference_cache(net)
    optimizer = torch.optim.Adam(net.parameters(), fused=True)
    track_optimizer_writes(optimizer)
    x = torch.randn(3, 6)

    def state_size() -> int:
        sizes = [len(module.__dict__) for module in net.modules()]
        sizes += [len(p.__dict__) for p in net.parameters()]
        sizes += [len(optimizer._optimizer_step_post_hooks)]
        return sum(sizes)

    def run(steps: int) -> None:
        for _ in range(steps):
            infer(net, x)
            optimizer.zero_grad()
            net(x).sum().backward()
            optimizer.step()

    run(10)
    size = state_size()
    run(100)
    assert state_size() == size
    assert all(layer._cache is not None for _, layer in weight_norm_layers(net))


def test_functional_call_does_not_use_the_cache(linear_form: str) -> None:
    layer = WeightNormLinear(6, 4)
    x = torch.randn(3, 6)
    infer(layer, x)
    params = {name: torch.randn_like(p) for name, p in layer.named_parameters()}
    with torch.no_grad():
        out = torch.func.functional_call(layer, params, (x,))
    expected = nn.functional.linear(x, explicit_weight(params["v"], params["g"]), params["bias"])
    torch.testing.assert_close(out, expected)


def test_optimizers_keep_their_foreach_kernels() -> None:
    from torch.optim.optimizer import _default_to_fused_or_foreach

    params = list(WeightNormLinear(3, 2).parameters())
    assert all(type(p) is nn.Parameter for p in params)  # plain parameters, no subclass
    # fused Adam runs on the CPU; it is picked only for types on torch's exact-type list
    assert _default_to_fused_or_foreach(params, differentiable=False, use_fused=True) == (
        True,
        False,
    )
    optimizer = torch.optim.Adam(params, fused=True)
    params[0].sum().backward()
    optimizer.step()


# --- checkpoints and serialization --------------------------------------------------------


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


def test_torch_compile_matches_eager() -> None:
    torch.manual_seed(0)
    net = weight_norm(nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)))
    compiled = torch.compile(net)
    x = torch.randn(5, 2, 6, 6)
    torch.testing.assert_close(compiled(x), net(x))
    compiled(x).sum().backward()
    assert net[3].g.grad is not None and torch.isfinite(net[3].v.grad).all()
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), net(x))


def run_snippet(code: str) -> str:
    """Run ``code`` in a fresh Python process; its stdout (the test fails if it fails)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_layers_module_depends_on_torch_only() -> None:
    """wnrl.layers imports torch alone: it works where SB3, gymnasium and ale-py are missing."""
    code = (
        "import sys\n"
        "for name in ('stable_baselines3', 'sb3_contrib', 'gymnasium', 'ale_py'):\n"
        "    sys.modules[name] = None  # import raises ImportError: as if not installed\n"
        "import torch, wnrl.layers as L\n"
        "net = L.weight_norm(torch.nn.Sequential(torch.nn.Linear(3, 2)))\n"
        "L.data_dependent_init(net, torch.randn(8, 3))\n"
        "print(net(torch.randn(4, 3)).shape)\n"
    )
    assert "torch.Size([4, 2])" in run_snippet(code)
    import ast

    files = [Path(layers_module.__file__), *Path(functional.__file__).parent.glob("*.py")]
    imported = set()
    for file in files:
        tree = ast.parse(file.read_text())
        imported |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
            for alias in node.names
        }  # fmt: skip
        imported |= {
            node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        }  # fmt: skip
    # wnrl.names: the lists of names every layer reads (the standard library only)
    outside = {name for name in imported if not name.startswith("wnrl.nn") and name != "wnrl.names"}
    assert {name.split(".")[0] for name in outside} <= {
        "torch",
        "__future__",
        "contextlib",
        "fnmatch",
        "collections",
        "dataclasses",
        "typing",
        "inspect",
    }, outside


def test_importing_wnrl_changes_nothing_in_torch_or_sb3() -> None:
    """No import-time patches: torch's optimizer hooks and kernel lists, Parameter.data and
    SB3's own policy names are as they were before ``import wnrl``."""
    code = (
        "import torch, torch.optim.optimizer as o, torch.utils._foreach_utils as f\n"
        "from stable_baselines3 import DQN\n"
        "before = (dict(o._global_optimizer_post_hooks), dict(o._global_optimizer_pre_hooks),\n"
        "          list(o._foreach_supported_types), list(f._foreach_supported_types),\n"
        "          torch.nn.Parameter.data, dict(DQN.policy_aliases))\n"
        "import wnrl, wnrl.layers, wnrl.policies, wnrl.cli\n"
        "after = (dict(o._global_optimizer_post_hooks), dict(o._global_optimizer_pre_hooks),\n"
        "         list(o._foreach_supported_types), list(f._foreach_supported_types),\n"
        "         torch.nn.Parameter.data, dict(DQN.policy_aliases))\n"
        "assert before[:5] == after[:5], (before, after)\n"
        "added = set(after[5]) - set(before[5])\n"
        "assert all(after[5][k] is v for k, v in before[5].items())  # SB3's names untouched\n"
        "assert added == {'WNMlpPolicy', 'WNCnnPolicy', 'WNMultiInputPolicy'}, added\n"
    )
    run_snippet(code)
