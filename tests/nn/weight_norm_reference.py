"""The paper's formulas written out, to check wnrl.nn's layers against (test helpers)."""

from __future__ import annotations

import torch
from torch import nn

from wnrl.layers import WeightNormLinear


def explicit_weight(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Paper eq. 2 written out: w = g v / ||v|| per output unit."""
    norms = v.reshape(v.shape[0], -1).pow(2).sum(dim=1).sqrt()
    return v * (g / norms).reshape(-1, *([1] * (v.dim() - 1)))


def infer(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return layer(x)


def fresh(layer: WeightNormLinear, x: torch.Tensor) -> torch.Tensor:
    return nn.functional.linear(x, explicit_weight(layer.v, layer.g).detach(), layer.bias)
