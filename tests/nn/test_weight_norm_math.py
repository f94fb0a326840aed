"""WeightNormLinear / WeightNormConv2d and MeanOnlyBatchNorm against the paper's formulas
(Salimans & Kingma 2016: eq. 2 forward, eq. 3-4 gradients, sec. 4 mean-only batch norm)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations
from weight_norm_reference import explicit_weight, fresh, infer

import wnrl.nn.functional as functional
from wnrl.layers import (
    DEFAULT_EPS,
    MeanOnlyBatchNorm,
    WeightNormConv2d,
    WeightNormLinear,
    enable_inference_cache,
    track_optimizer_writes,
    weight_norm,
)


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


# --- torch.compile ---------------------------------------------------------------------------


@pytest.mark.slow  # compiling takes ~15 s
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
