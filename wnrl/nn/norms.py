"""Turn a plain network into one of the normalizers compared in wnrl (torch only).

``apply_norm(module, norm, heads)`` rewrites every ``nn.Linear`` / ``nn.Conv2d`` of ``module``:

====================  =======================================================================
``norm``              what every layer becomes
====================  =======================================================================
``"wn"``              weight normalization (paper eq. 2) on every layer; the output heads too
                      unless the caller keeps them plain (``plain_heads``, wnrl's default)
``"wn+mobn"``         weight norm + mean-only batch norm after every hidden layer (sec. 4)
``"wn+proj"``         weight norm whose ``v`` is projected back to unit norm after every
                      optimizer step (Normalize-and-Project, :mod:`wnrl.nn.projection`)
``"none"``            unchanged: the plain parameterization, the baseline of every comparison
``"ln"``              LayerNorm after every hidden layer (GroupNorm(1, C) after convolutions)
``"bn"``              BatchNorm after every hidden layer (BatchNorm1d / BatchNorm2d)
====================  =======================================================================

"Hidden" is every layer but the output heads, which the caller names (``heads``): normalizing
a Q head or a policy-logit head over the batch would make one state's output depend on the
other states in the minibatch. Conversions preserve the function (``weight_norm``), so an
initialization done on the plain layers (e.g. SB3's orthogonal init) carries over exactly.
"""

from __future__ import annotations

from collections.abc import Collection

from torch import nn

from wnrl.names import NORMS
from wnrl.nn.convert import weight_norm
from wnrl.nn.mean_only_bn import MeanOnlyBatchNorm

NORM_DESCRIPTIONS: dict[str, str] = {
    "wn": "weight normalization on every layer (Salimans & Kingma 2016, eq. 2)",
    "wn+mobn": "weight normalization + mean-only batch norm after hidden layers (sec. 4)",
    "wn+proj": "weight normalization, v projected to unit norm after each step (Lyle et al. 2024)",
    "none": "plain parameterization (the baseline)",
    "ln": "LayerNorm after hidden layers",
    "bn": "BatchNorm after hidden layers",
}


def check_norm(norm: str) -> str:
    """``norm`` if it is one of :data:`NORMS`, else a ``ValueError`` naming the choices."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return norm


def uses_weight_norm(norm: str) -> bool:
    return norm in ("wn", "wn+mobn", "wn+proj")


def projects_directions(norm: str) -> bool:
    """Whether ``norm``'s optimizers project ``v`` after each step (:mod:`wnrl.nn.projection`)."""
    return norm == "wn+proj"


def _hidden_norm(norm: str, layer: nn.Module) -> nn.Module | None:
    """The normalization layer inserted after a hidden ``layer`` (None for wn / none)."""
    conv = isinstance(layer, nn.Conv2d)
    features = layer.out_channels if conv else layer.out_features
    factory = {"device": layer.weight.device, "dtype": layer.weight.dtype}
    if norm == "ln":
        return nn.GroupNorm(1, features, **factory) if conv else nn.LayerNorm(features, **factory)
    if norm == "bn":
        return nn.BatchNorm2d(features, **factory) if conv else nn.BatchNorm1d(features, **factory)
    if norm == "wn+mobn":
        return MeanOnlyBatchNorm(features, **factory)
    return None


class NormalizedLayer(nn.Sequential):
    """``Sequential(layer, normalization)``: a hidden layer followed by the LayerNorm /
    BatchNorm that ``apply_norm`` inserted (state-dict keys ``0.*`` and ``1.*``, as a plain
    ``nn.Sequential``). Its own class marks it as converted, so converting again skips it."""


def _convert_layer(layer: nn.Module, norm: str, is_head: bool, plain_heads: bool) -> nn.Module:
    if is_head and plain_heads:
        return layer
    if uses_weight_norm(norm):
        if norm == "wn+mobn" and not is_head:
            # paper sec. 4: the layer's bias is dropped and b is added after the mean subtraction
            return weight_norm(layer, mean_only_bn=True)
        return weight_norm(layer)
    after = None if is_head else _hidden_norm(norm, layer)
    if after is None:
        return layer
    pair = NormalizedLayer(layer, after)
    pair.train(layer.training)
    return pair


def apply_norm(
    module: nn.Module, norm: str, heads: Collection[nn.Module] = (), plain_heads: bool = False
) -> int:
    """Rewrite ``module``'s plain Linear/Conv2d layers for ``norm``, in place; returns how many
    were rewritten.

    ``heads``: the output layers (no normalization layer is inserted after them; under weight
    norm they are weight-normalized like every other layer, unless ``plain_heads``: then they
    stay plain, as in normalized RL networks that treat the output layer apart). Modules
    shared between several
    parents are converted once and stay shared; layers converted before are left alone. Build
    optimizers after this call: the converted layers have new parameters.
    """
    check_norm(norm)
    if norm == "none":
        return 0
    head_ids = {id(head) for head in heads}
    replaced: dict[int, nn.Module] = {}

    def visit(parent: nn.Module) -> None:
        for name, child in list(parent.named_children()):
            if type(child) in (nn.Linear, nn.Conv2d):
                if id(child) not in replaced:
                    is_head = id(child) in head_ids
                    replaced[id(child)] = _convert_layer(child, norm, is_head, plain_heads)
                setattr(parent, name, replaced[id(child)])
            elif not isinstance(child, NormalizedLayer):
                visit(child)

    visit(module)
    return sum(1 for old, new in replaced.items() if id(new) != old)
