"""The weight-norm math of paper eq. 2-4 as functions of ``(v, g)``: torch only, no modules.

``w = g v / ||v||`` with one ``g`` per output unit (axis 0 of ``v``) and the norm over every
other axis; its gradients (eq. 3-4) come from autograd, except in :class:`WeightNormLinearFunction`,
which writes them out for eq. 3's cheap form ``y = (g/||v||)(v . x) + b``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

#: Smallest ``||v||`` used in a division: ``v = 0`` gives ``w = 0`` rather than NaN
#: (torch's own kernel has no such guard, pytorch/pytorch#19126).
DEFAULT_EPS = 1e-12


def unit_norms(v: Tensor, eps: float) -> Tensor:
    """``||v||`` per output unit (axis 0), over all other axes, clamped below at ``eps``."""
    return torch.linalg.vector_norm(v.flatten(1), dim=1).clamp_min(eps)


def normalized_weight(v: Tensor, g: Tensor, eps: float) -> Tensor:
    """Paper eq. 2: ``w = g v / ||v||``, one ``g`` per output unit (axis 0 of ``v``)."""
    scale = g / unit_norms(v, eps)
    return v * scale.view(-1, *([1] * (v.dim() - 1)))


_FUSED_WEIGHT_NORM = getattr(torch, "_weight_norm_interface", None)


def differentiable_weight(v: Tensor, g: Tensor, eps: float) -> Tensor:
    """Eq. 2 with autograd, the gradients of eq. 3-4 included; the train-step path.

    On the CPU it uses torch's fused weight-norm kernel (one pass forward, one backward: faster
    than the composed formula on a NatureCNN train step) and falls back to the
    eps-guarded formula when some ``||v|| = 0``, where the fused kernel gives NaN
    (pytorch/pytorch#19126). Elsewhere the check would force a device sync, so the guarded
    formula is used directly.
    """
    if (
        _FUSED_WEIGHT_NORM is not None
        and v.device.type == "cpu"
        and not torch.compiler.is_compiling()
    ):
        weight, norms = _FUSED_WEIGHT_NORM(v, g.view(-1, *([1] * (v.dim() - 1))), 0)
        if not bool((norms == 0).any()):
            return weight
    return normalized_weight(v, g, eps)


def unit_scale(v: Tensor, g: Tensor, eps: float) -> Tensor:
    """``g / ||v||`` per output unit: the factor eq. 3 applies to ``v . x``."""
    return g / unit_norms(v, eps)


class WeightNormLinearFunction(torch.autograd.Function):
    """``y = s * (x v^T) + b`` with ``s = g/||v||`` (paper eq. 3), and its gradients (eq. 3-4).

    ``norms`` (``||v||`` per unit, clamped at eps) is passed in, computed without autograd:
    its dependence on ``v`` is in the backward formula below.

    With ``u = x v^T`` and ``c_j = sum_n dy_nj u_nj``:
    ``dg_j = c_j / ||v_j||`` (eq. 3) and ``dv_j = s_j (dy^T x)_j - s_j c_j / ||v_j||^2 v_j``,
    which is eq. 4, ``(g/||v||) M_w dw`` with ``dw = dy^T x``, written so that the backward
    pass allocates one weight-sized tensor (the matmul's result, corrected in place) and the
    forward pass none. First-order gradients only (``create_graph`` is not supported).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: Tensor, v: Tensor, g: Tensor, bias: Tensor | None, norms: Tensor
    ) -> Tensor:
        scale = g / norms
        u = F.linear(x, v)
        ctx.save_for_backward(x, v, g, norms, u)
        ctx.has_bias = bias is not None
        return torch.addcmul(bias, u, scale) if bias is not None else u * scale

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, v, g, norms, u = ctx.saved_tensors
        scale = g / norms
        grad_scaled = (grad_out * scale).reshape(-1, v.shape[0])
        grad_x = (grad_scaled @ v).reshape(x.shape) if ctx.needs_input_grad[0] else None
        c = (grad_out * u).reshape(-1, v.shape[0]).sum(0)
        grad_g = c / norms if ctx.needs_input_grad[2] else None
        grad_v = None
        if ctx.needs_input_grad[1]:
            grad_v = grad_scaled.t().mm(x.reshape(-1, v.shape[1]))
            grad_v.addcmul_(v, (-(scale * c) / (norms * norms)).unsqueeze(1))
        grad_bias = grad_out.reshape(-1, v.shape[0]).sum(0) if ctx.has_bias else None
        return grad_x, grad_v, grad_g, grad_bias, None  # ``norms`` is a function of ``v``
