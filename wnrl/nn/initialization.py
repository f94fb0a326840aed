"""The paper's initializations (sec. 3): ``v ~ N(0, 0.05^2)``, then the data-dependent init."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wnrl.nn.convert import weight_norm_layers
from wnrl.nn.functional import DEFAULT_EPS, unit_norms
from wnrl.nn.layers import WN_TYPES, WeightNormLinear
from wnrl.nn.mean_only_bn import MeanOnlyBatchNorm


@torch.no_grad()
def paper_init_(module: nn.Module, std: float = 0.05) -> nn.Module:
    """Paper sec. 3, step 1: ``v ~ N(0, std^2)``, ``g = 1``, ``b = 0`` for every WN layer."""
    for _, layer in weight_norm_layers(module):
        layer.v.normal_(0.0, std)
        layer.g.fill_(1.0)
        if layer.bias is not None:
            layer.bias.zero_()
    return module


InitScale = float | Mapping[str, float] | Callable[[str, nn.Module], float | None]


@dataclass(frozen=True)
class LayerInitStats:
    """What :func:`data_dependent_init` measured for one layer, before rescaling it.

    ``mean`` and ``std`` are per output unit, of the pre-activation ``t = v . x / ||v||``
    (WN layers) or ``t = w . x`` (plain layers), over the batch and spatial positions.
    """

    name: str
    kind: str
    init_scale: float
    mean: Tensor
    std: Tensor


def _resolve_scale(init_scale: InitScale, name: str, layer: nn.Module) -> float:
    if callable(init_scale) and not isinstance(init_scale, Mapping):
        value = init_scale(name, layer)
        return 1.0 if value is None else float(value)
    if isinstance(init_scale, Mapping):
        if name in init_scale:
            return float(init_scale[name])
        for pattern, value in init_scale.items():
            if pattern != "*" and fnmatch.fnmatchcase(name, pattern):
                return float(value)
        return float(init_scale.get("*", 1.0))
    return float(init_scale)


def _unit_statistics(t: Tensor, var_eps: float) -> tuple[Tensor, Tensor]:
    dims = [0, *range(2, t.dim())]
    mean = t.mean(dim=dims)
    var = t.var(dim=dims, unbiased=False)
    return mean, torch.sqrt(var + var_eps)


def _raw_preactivation(layer: nn.Module, x: Tensor, eps: float) -> Tensor:
    """``t = v . x / ||v||`` for WN layers and ``t = w . x`` for plain ones, without bias."""
    if isinstance(layer, WN_TYPES):
        direction = layer.v / unit_norms(layer.v, eps).view(-1, *([1] * (layer.v.dim() - 1)))
    else:
        direction = layer.weight
    if isinstance(layer, (WeightNormLinear, nn.Linear)):
        return F.linear(x, direction)
    return F.conv2d(x, direction, None, layer.stride, layer.padding, layer.dilation, layer.groups)


def _rescale(layer: nn.Module, mean: Tensor, std: Tensor, scale: float) -> None:
    """Paper sec. 3: ``g <- s / sigma``, ``b <- -s mu / sigma`` (plain layers: w and b rescaled)."""
    factor = scale / std
    if isinstance(layer, WN_TYPES):
        layer.g.copy_(factor.to(layer.g.dtype))
        layer.clear_cache()
    else:
        layer.weight.mul_(factor.view(-1, *([1] * (layer.weight.dim() - 1))).to(layer.weight.dtype))
    if layer.bias is not None:
        layer.bias.copy_((-mean * factor).to(layer.bias.dtype))


@torch.no_grad()
def data_dependent_init(
    module: nn.Module,
    batch: Any,
    init_scale: InitScale = 1.0,
    *,
    include_plain: bool = True,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    var_eps: float = 1e-8,
) -> dict[str, LayerInitStats]:
    """Data-dependent initialization (paper sec. 3), layer by layer, in place.

    One forward pass of ``batch`` through ``module``: just before each Linear/Conv2d layer runs
    (weight-normalized ones, and plain ones when ``include_plain``), its pre-activation
    ``t = v . x / ||v||`` is measured on the layer's actual input, which was produced by the
    layers before it *after* their own initialization, and the layer is rescaled so that its
    output on this batch has mean 0 and std ``init_scale`` per output unit:
    ``g <- s / sigma[t]``, ``b <- -s mu[t] / sigma[t]``. A :class:`MeanOnlyBatchNorm` right after
    a layer gets its running mean set to the batch mean and its bias to 0, so the pair is
    initialized the same way in both train and eval mode.

    Args:
        module: any module; its parameters are updated in place (``copy_``), so optimizers that
            already hold them stay valid.
        batch: a tensor (``module(batch)``), a tuple (``module(*batch)``), or anything your
            ``forward`` takes.
        init_scale: a float for every layer, a mapping from qualified layer name (exact, or a
            glob pattern such as ``"*.action_net"``; ``"*"`` is the default) to scale, or a
            callable ``(name, layer) -> scale or None`` (None: 1.0).
        include_plain: also initialize plain ``nn.Linear`` / ``nn.Conv2d`` layers (w rescaled).
        forward: how to run the batch, ``forward(module, batch)``; default calls the module.
        var_eps: added to the variance (the reference code uses 1e-8 to 1e-10).

    Returns:
        ``{layer name: LayerInitStats}`` in forward order, with the statistics measured before
        each layer was rescaled.
    """
    stats: dict[str, LayerInitStats] = {}
    targets: list[tuple[str, nn.Module]] = []
    for name, layer in module.named_modules():
        if isinstance(layer, WN_TYPES) or (include_plain and type(layer) in (nn.Linear, nn.Conv2d)):
            targets.append((name, layer))
    bns = [(n, m) for n, m in module.named_modules() if isinstance(m, MeanOnlyBatchNorm)]
    done: set[int] = set()

    def layer_hook(name: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(layer: nn.Module, inputs: tuple[Any, ...]) -> None:
            if id(layer) in done:
                return
            done.add(id(layer))
            t = _raw_preactivation(layer, inputs[0], getattr(layer, "eps", DEFAULT_EPS))
            mean, std = _unit_statistics(t, var_eps)
            scale = _resolve_scale(init_scale, name, layer)
            kind = type(layer).__name__
            stats[name] = LayerInitStats(name, kind, scale, mean.cpu(), std.cpu())
            _rescale(layer, mean, std, scale)

        return hook

    def bn_hook(bn: nn.Module, inputs: tuple[Any, ...]) -> None:
        if id(bn) in done:
            return
        done.add(id(bn))
        mean, _ = _unit_statistics(inputs[0], var_eps)
        bn.running_mean.copy_(mean)
        if bn.bias is not None:
            bn.bias.zero_()

    handles = [layer.register_forward_pre_hook(layer_hook(name)) for name, layer in targets]
    handles += [bn.register_forward_pre_hook(bn_hook) for _, bn in bns]
    try:
        if forward is not None:
            forward(module, batch)
        elif isinstance(batch, tuple):
            module(*batch)
        else:
            module(batch)
    finally:
        for handle in handles:
            handle.remove()
    return stats
