"""Convert a module's ``nn.Linear`` / ``nn.Conv2d`` layers to weight norm and back, same function.

``weight_norm`` sets ``v = w`` and ``g = ||w||`` per output unit (paper eq. 2), so outputs are
unchanged; ``remove_weight_norm`` folds ``g v / ||v||`` (and a mean-only BN pair, sec. 4) back
into plain layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from wnrl.nn.functional import DEFAULT_EPS
from wnrl.nn.layers import WN_TYPES, WeightNormConv2d, WeightNormLinear
from wnrl.nn.mean_only_bn import MeanOnlyBatchNorm


def _to_weight_norm(layer: nn.Module, mean_only_bn: bool, eps: float) -> nn.Module:
    """The weight-normalized replacement of one ``nn.Linear`` / ``nn.Conv2d``."""
    if isinstance(layer, nn.Linear):
        new: nn.Module = WeightNormLinear.from_linear(layer, eps)
        features = layer.out_features
    else:
        new = WeightNormConv2d.from_conv(layer, eps)
        features = layer.out_channels
    new.train(layer.training)
    if not mean_only_bn:
        return new
    # Paper sec. 4: the layer's own bias is dropped before the mean subtraction and b is
    # added after it. A fresh running mean of 0 keeps eval-mode outputs unchanged.
    bias = new.bias
    new.bias = None
    bn = MeanOnlyBatchNorm(features, device=new.v.device, dtype=new.v.dtype, bias=True)
    with torch.no_grad():
        if bias is not None:
            bn.bias.copy_(bias)
    pair = nn.Sequential(new, bn)
    pair.train(layer.training)
    return pair


def replace_children(module: nn.Module, convert: Callable[[nn.Module], nn.Module | None]) -> None:
    for name, child in list(module.named_children()):
        replacement = convert(child)
        if replacement is not None:
            setattr(module, name, replacement)
        else:
            replace_children(child, convert)


def weight_norm(
    module: nn.Module, mean_only_bn: bool = False, eps: float = DEFAULT_EPS
) -> nn.Module:
    """Convert every ``nn.Linear`` and ``nn.Conv2d`` inside ``module`` to weight norm, in place.

    Function-preserving: ``v = w`` and ``g = ||w||`` per output unit (paper eq. 2), so outputs
    are unchanged to float tolerance. With ``mean_only_bn=True`` each converted layer becomes
    ``nn.Sequential(WN layer without bias, MeanOnlyBatchNorm(bias=old bias))`` as in paper
    sec. 4 (unchanged in eval mode until the running mean moves; training mode subtracts the
    batch mean). Layers that are already weight-normalized are left alone.

    Returns ``module``, or its replacement when ``module`` itself is a Linear/Conv2d.
    """

    def convert(child: nn.Module) -> nn.Module | None:
        if type(child) in (nn.Linear, nn.Conv2d):
            return _to_weight_norm(child, mean_only_bn, eps)
        return None

    replacement = convert(module)
    if replacement is not None:
        return replacement
    replace_children(module, convert)
    return module


def _fold_layer(layer: nn.Module, bn: MeanOnlyBatchNorm | None) -> nn.Module:
    plain = layer.to_linear() if isinstance(layer, WeightNormLinear) else layer.to_conv()
    if bn is not None:
        # Eval-mode mean-only BN is affine: y = t - running_mean + b.
        shift = (bn.bias.detach() if bn.bias is not None else 0) - bn.running_mean
        if plain.bias is None:
            plain.bias = nn.Parameter(torch.zeros_like(shift))
        with torch.no_grad():
            plain.bias.add_(shift)
    plain.train(layer.training)
    return plain


def remove_weight_norm(module: nn.Module) -> nn.Module:
    """Fold every weight-normalized layer inside ``module`` back into a plain layer, in place.

    The inverse of :func:`weight_norm`: each :class:`WeightNormLinear` / :class:`WeightNormConv2d`
    becomes an ``nn.Linear`` / ``nn.Conv2d`` with ``weight = g v / ||v||``. A
    ``Sequential(WN layer, MeanOnlyBatchNorm)`` pair made by ``weight_norm(mean_only_bn=True)`` is
    folded into one plain layer equal to the pair in eval mode (running mean absorbed into the
    bias). Returns ``module``, or its replacement when ``module`` itself is a WN layer.
    """

    def convert(child: nn.Module) -> nn.Module | None:
        if isinstance(child, WN_TYPES):
            return _fold_layer(child, None)
        if (
            type(child) is nn.Sequential
            and len(child) == 2
            and isinstance(child[0], WN_TYPES)
            and isinstance(child[1], MeanOnlyBatchNorm)
        ):
            return _fold_layer(child[0], child[1])
        return None

    replacement = convert(module)
    if replacement is not None:
        return replacement
    replace_children(module, convert)
    return module


def weight_norm_layers(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """``(qualified name, layer)`` for every weight-normalized layer inside ``module``."""
    for name, child in module.named_modules():
        if isinstance(child, WN_TYPES):
            yield name, child


def is_weight_normalized(layer: nn.Module) -> bool:
    """True for :class:`WeightNormLinear` and :class:`WeightNormConv2d`."""
    return isinstance(layer, WN_TYPES)
