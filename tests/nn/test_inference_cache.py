"""The acting-time inference cache is never stale: every write torch records is seen (optimizer
steps of every torch optimizer, fused ones included; load_state_dict; in-place writes), and the
documented limit (writes through .data aliases) has its remedy."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from weight_norm_reference import explicit_weight, fresh, infer

from wnrl.layers import (
    WeightNormLinear,
    clear_inference_cache,
    enable_inference_cache,
    inference_cache,
    track_optimizer_writes,
    weight_norm,
    weight_norm_layers,
)


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


def test_the_weight_and_the_act_path_s_scale_never_stand_in_for_each_other(
    linear_form: str,
) -> None:
    """Acting reads the cached per-unit scale g/||v||, ``weight`` the cached weight: one slot
    holds either, keyed on which it holds, so reading one never returns the other."""
    layer = WeightNormLinear(6, 4)
    enable_inference_cache(layer)
    x = torch.randn(3, 6)
    expected = x @ explicit_weight(layer.v, layer.g).detach().t() + layer.bias.detach()
    with torch.no_grad():
        for _ in range(2):
            weight = layer.weight
            assert weight.shape == (4, 6)
            torch.testing.assert_close(layer(x), expected)  # not computed with a weight as scale
            torch.testing.assert_close(layer.weight, explicit_weight(layer.v, layer.g))


@pytest.mark.parametrize("in_features,out_features", [(6, 4), (256, 128)])
def test_the_act_path_s_form_depends_on_size_alone(in_features: int, out_features: int) -> None:
    """Without autograd a layer acts with its weight (small) or eq. 3's cheap form (from
    CHEAP_ACT_MIN_WEIGHTS on), whatever the calls before: equal inputs and parameters give
    bit-identical outputs, cache on or off, first call or tenth."""
    from wnrl.nn.functional import normalized_weight, unit_scale
    from wnrl.nn.layers import CHEAP_ACT_MIN_WEIGHTS

    layer = WeightNormLinear(in_features, out_features)
    x = torch.randn(3, in_features)
    with torch.no_grad():
        uncached = layer(x)
        enable_inference_cache(layer)
        outputs = [layer(x) for _ in range(3)]
    expected = (
        unit_scale if in_features * out_features >= CHEAP_ACT_MIN_WEIGHTS else (normalized_weight)
    )
    assert layer._cache[2][0] is expected
    assert all(torch.equal(out, uncached) for out in outputs)
    reference = x @ explicit_weight(layer.v, layer.g).detach().t() + layer.bias.detach()
    torch.testing.assert_close(uncached, reference)


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
