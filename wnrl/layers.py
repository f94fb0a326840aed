"""Weight normalization as plain PyTorch layers (Salimans & Kingma, 2016).

This module implements the paper's three techniques and depends on torch alone:

* :class:`WeightNormLinear` and :class:`WeightNormConv2d`: the reparameterization
  ``w = g v / ||v||`` of paper eq. 2, one scalar ``g`` per output unit, the norm taken over
  every axis of ``v`` but the output axis.
* :class:`MeanOnlyBatchNorm`: mean-only batch normalization (paper sec. 4).
* :func:`data_dependent_init`: the data-dependent initialization of paper sec. 3.
* :func:`weight_norm` / :func:`remove_weight_norm`: convert any module's ``nn.Linear`` /
  ``nn.Conv2d`` layers to weight-normalized ones and back, preserving the function.

Speed: with autograd on (the train step) the normalized weight is rebuilt on every call,
as torch's own ``parametrizations.weight_norm`` does. With autograd off, a layer can reuse it
between calls (:func:`enable_inference_cache`, or the scoped :func:`inference_cache`), so
acting costs about what a plain layer costs. The cache is opt-in and scoped to the modules
you name; it is keyed on torch's version counters and storage addresses of ``v`` and ``g``
(nothing is patched: no parameter subclass, no global hooks). Fused optimizers write without
bumping version counters: :func:`track_optimizer_writes` adds a step hook to that optimizer.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.utils.hooks import RemovableHandle

__all__ = [
    "WeightNormLinear",
    "WeightNormConv2d",
    "MeanOnlyBatchNorm",
    "enable_inference_cache",
    "inference_cache",
    "clear_inference_cache",
    "track_optimizer_writes",
    "LayerInitStats",
    "weight_norm",
    "remove_weight_norm",
    "data_dependent_init",
    "paper_init_",
    "weight_norm_layers",
    "is_weight_normalized",
]

#: Smallest ``||v||`` used in a division: ``v = 0`` gives ``w = 0`` rather than NaN
#: (torch's own kernel has no such guard, pytorch/pytorch#19126).
DEFAULT_EPS = 1e-12

#: Linear layers with at least this many weights use eq. 3's cheap form (see
#: ``WeightNormLinear.forward``); chosen with ``scripts/bench_layers.py``.
CHEAP_FORM_MIN_WEIGHTS = 1 << 18


def _rebuild_tracked_parameter(data: Tensor, requires_grad: bool) -> nn.Parameter:
    """Unpickles modules saved by wnrl 0.1 (whose parameters were a subclass) as plain ones."""
    return nn.Parameter(data, requires_grad)


def _parameter(tensor: Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone(), requires_grad=True)


def _mark_stepped_parameters_written(
    optimizer: torch.optim.Optimizer, args: Any, kwargs: Any
) -> None:
    """Step post-hook of one optimizer: bump the version counter of each of its parameters.

    torch's fused kernels (``fused=True``) and optimizers that write through ``.data`` change
    parameters without bumping their version counters, which the inference cache (and
    autograd's own in-place checks) rely on; ``torch.autograd.graph.increment_version`` is
    torch's public way to report such a write.
    """
    torch.autograd.graph.increment_version(
        [param for group in optimizer.param_groups for param in group["params"]]
    )


def track_optimizer_writes(optimizer: torch.optim.Optimizer) -> RemovableHandle | None:
    """Make every step of ``optimizer`` visible to the inference cache; idempotent.

    Needed only for optimizers that write without a version bump (torch's fused kernels, code
    that writes through ``.data``); harmless for the others. Registers a step post-hook on
    this optimizer instance alone (nothing process-wide). Returns the hook's handle, or None if
    the optimizer already had it.
    """
    if optimizer.__dict__.get("_wnrl_tracks_writes"):
        return None
    handle = optimizer.register_step_post_hook(_mark_stepped_parameters_written)
    optimizer.__dict__["_wnrl_tracks_writes"] = True
    return handle


def _unit_norms(v: Tensor, eps: float) -> Tensor:
    """``||v||`` per output unit (axis 0), over all other axes, clamped below at ``eps``."""
    return torch.linalg.vector_norm(v.flatten(1), dim=1).clamp_min(eps)


def _normalized_weight(v: Tensor, g: Tensor, eps: float) -> Tensor:
    """Paper eq. 2: ``w = g v / ||v||``, one ``g`` per output unit (axis 0 of ``v``)."""
    scale = g / _unit_norms(v, eps)
    return v * scale.view(-1, *([1] * (v.dim() - 1)))


_FUSED_WEIGHT_NORM = getattr(torch, "_weight_norm_interface", None)


def _differentiable_weight(v: Tensor, g: Tensor, eps: float) -> Tensor:
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
    return _normalized_weight(v, g, eps)


def _unit_scale(v: Tensor, g: Tensor, eps: float) -> Tensor:
    """``g / ||v||`` per output unit: the factor eq. 3 applies to ``v . x``."""
    return g / _unit_norms(v, eps)


class _WeightNormLinearFunction(torch.autograd.Function):
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


class _WeightNormMixin:
    """Shared logic of the weight-normalized layers: parameters, cache, import of checkpoints.

    Subclasses are ``nn.Module`` s that define ``v`` (weight direction, output axis 0),
    ``g`` (one scale per output unit), ``bias`` (or None) and ``eps``.
    """

    v: nn.Parameter
    g: nn.Parameter
    bias: nn.Parameter | None
    eps: float
    #: Reuse the normalized weight across no-grad calls (see :meth:`_cached`); off by default.
    cache_inference: bool

    def _init_weight_norm(self, weight: Tensor, bias: Tensor | None, eps: float) -> None:
        self.eps = float(eps)
        self.v = _parameter(weight)
        self.g = _parameter(_unit_norms(weight.detach(), eps))
        self.bias = _parameter(bias) if bias is not None else None
        self.cache_inference = False
        self._cache: tuple[Tensor, Tensor, tuple[int, ...], Tensor] | None = None

    def _cached(self, compute: Callable[[Tensor, Tensor, float], Tensor]) -> Tensor:
        """``compute(v, g, eps)`` without autograd, reused while ``v`` and ``g`` are unchanged.

        Only with :attr:`cache_inference` on (:func:`enable_inference_cache`). The cached value
        is keyed on the identity, version counter and storage address of ``v`` and ``g``, so
        every write that torch records is seen: optimizer steps (fused kernels through
        :func:`track_optimizer_writes`), ``load_state_dict``, in-place ops under
        ``torch.no_grad()``, ``.data =`` assignment and device or dtype moves. Not seen: in-place
        writes through a ``.data`` alias (SB3's ``polyak_update`` on target networks, which is
        why targets keep the cache off), ``.numpy()`` or DLPack views; call
        :meth:`clear_cache` after those. One slot per layer: nothing accumulates.
        """
        v, g = self._parameters["v"], self._parameters["g"]
        if not self.cache_inference or torch.compiler.is_compiling():
            return compute(v, g, self.eps)
        key = (v._version, g._version, v.data_ptr(), g.data_ptr())
        entry = self._cache
        if entry is not None and entry[0] is v and entry[1] is g and entry[2] == key:
            return entry[3]
        value = compute(v, g, self.eps)
        self._cache = (v, g, key, value)
        return value

    @property
    def weight(self) -> Tensor:
        """The effective weight ``g v / ||v||`` (paper eq. 2); read-only.

        Differentiable with autograd on; with autograd off and :attr:`cache_inference` on, a
        cached tensor rebuilt whenever ``v`` or ``g`` change (see :meth:`_cached`).
        """
        if torch.is_grad_enabled():
            return _differentiable_weight(self.v, self.g, self.eps)
        return self._cached(_normalized_weight)

    def direction_norm(self) -> Tensor:
        """``||v||`` per output unit (paper sec. 2.1: it grows during training)."""
        with torch.no_grad():
            return _unit_norms(self.v, self.eps)

    def clear_cache(self) -> None:
        """Drop the cached inference tensor (it is rebuilt on the next no-grad call)."""
        self._cache = None

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles start with the cache off: a copy is most often a target network,
        which SB3 writes through ``.data`` (unseen by the cache)."""
        state = dict(super().__getstate__())  # type: ignore[misc]
        state["_cache"] = None
        state["cache_inference"] = False
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.pop("_inference_cache", None)  # modules pickled by wnrl 0.1
        state.setdefault("_cache", None)
        state.setdefault("cache_inference", False)
        super().__setstate__(state)  # type: ignore[misc]

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Also accept checkpoints of torch's weight norm and of plain layers.

        * ``torch.nn.utils.parametrizations.weight_norm``:
          ``parametrizations.weight.original0`` (g) and ``...original1`` (v);
        * the deprecated ``torch.nn.utils.weight_norm``: ``weight_g`` and ``weight_v``;
        * a plain ``nn.Linear`` / ``nn.Conv2d``: ``weight`` (v = weight, g = ||weight||).
        """
        renames = {
            "parametrizations.weight.original0": "g",
            "parametrizations.weight.original1": "v",
            "weight_g": "g",
            "weight_v": "v",
        }
        for old, new in renames.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                value = state_dict.pop(prefix + old)
                state_dict[prefix + new] = value.reshape(-1) if new == "g" else value
        plain = prefix + "weight"
        if plain in state_dict and prefix + "v" not in state_dict:
            weight = state_dict.pop(plain)
            state_dict[prefix + "v"] = weight
            state_dict[prefix + "g"] = _unit_norms(weight.detach().to(self.v.dtype), self.eps)
        self._cache = None
        super()._load_from_state_dict(  # type: ignore[misc]
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def effective_step_scale(self) -> Tensor:
        """``g / ||v||`` per output unit: the factor that scales gradient steps on ``v`` (eq. 4)."""
        with torch.no_grad():
            return self.g / _unit_norms(self.v, self.eps)


class WeightNormLinear(_WeightNormMixin, nn.Module):
    """A linear layer ``y = x w^T + b`` with ``w = g v / ||v||`` (paper eq. 2).

    Arguments match ``nn.Linear``. ``v`` starts as ``nn.Linear``'s default weight and
    ``g = ||v||`` per row, so a fresh layer computes what a fresh ``nn.Linear`` would; use
    :func:`data_dependent_init` (paper sec. 3) or :func:`paper_init_` to start as the paper does.

    Parameters: ``v`` [out, in], ``g`` [out], ``bias`` [out]. ``eps`` guards ``||v|| = 0``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        eps: float = DEFAULT_EPS,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        reference = nn.Linear(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self._init_weight_norm(reference.weight, reference.bias, eps)

    @classmethod
    def from_linear(cls, layer: nn.Linear, eps: float = DEFAULT_EPS) -> WeightNormLinear:
        """The weight-normalized layer that computes exactly what ``layer`` computes."""
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new.in_features, new.out_features = layer.in_features, layer.out_features
        new._init_weight_norm(layer.weight, layer.bias, eps)
        return new

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the same outputs (for deployment and export)."""
        v = self.v
        layer = nn.Linear(
            self.in_features, self.out_features, self.bias is not None, v.device, v.dtype
        )
        with torch.no_grad():
            layer.weight.copy_(_normalized_weight(v, self.g, self.eps))
            if self.bias is not None:
                layer.bias.copy_(self.bias)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """Paper eq. 2 for small layers; eq. 3's cheap form for large ones.

        Small layers (fewer than :data:`CHEAP_FORM_MIN_WEIGHTS` weights) are bound by per-op
        overhead: ``F.linear`` with the normalized weight (torch's fused kernel with autograd
        on, a cached weight with it off) is fastest. Large ones (NatureCNN's 3136x512 layer)
        are bound by memory traffic: ``y = (g/||v||) (v . x) + b`` never materializes the
        weight, through :class:`_WeightNormLinearFunction` with autograd on and a cached
        per-unit scale ``g/||v||`` with it off.
        """
        if self.v.numel() < CHEAP_FORM_MIN_WEIGHTS:
            return F.linear(x, self.weight, self.bias)
        if torch.is_grad_enabled():
            if torch.compiler.is_compiling():
                return F.linear(x, _normalized_weight(self.v, self.g, self.eps), self.bias)
            # norms computed here, never taken from the act-path cache: a write the cache cannot
            # see would then cost a stale action, never a wrong gradient
            with torch.no_grad():
                norms = _unit_norms(self.v, self.eps)
            return _WeightNormLinearFunction.apply(x, self.v, self.g, self.bias, norms)
        scale = self._cached(_unit_scale)
        out = F.linear(x, self.v)
        return torch.addcmul(self.bias, out, scale) if self.bias is not None else out * scale

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class WeightNormConv2d(_WeightNormMixin, nn.Module):
    """A 2-D convolution whose kernel is ``w = g v / ||v||`` (paper eq. 2).

    Arguments match ``nn.Conv2d`` (zero padding only). ``v`` is [out, in/groups, kh, kw]; the norm
    is taken over (in, kh, kw), one ``g`` per output channel.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        eps: float = DEFAULT_EPS,
    ) -> None:
        super().__init__()
        reference = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self._copy_geometry(reference)
        self._init_weight_norm(reference.weight, reference.bias, eps)

    def _copy_geometry(self, conv: nn.Conv2d) -> None:
        if conv.padding_mode != "zeros":
            raise ValueError(
                f"WeightNormConv2d supports padding_mode='zeros' only, got {conv.padding_mode!r}"
            )
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, conv.groups

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, eps: float = DEFAULT_EPS) -> WeightNormConv2d:
        """The weight-normalized convolution that computes exactly what ``conv`` computes."""
        new = cls.__new__(cls)
        nn.Module.__init__(new)
        new._copy_geometry(conv)
        new._init_weight_norm(conv.weight, conv.bias, eps)
        return new

    def to_conv(self) -> nn.Conv2d:
        """A plain ``nn.Conv2d`` with the same outputs (for deployment and export)."""
        v = self.v
        conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=self.groups,
            bias=self.bias is not None,
            device=v.device,
            dtype=v.dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(_normalized_weight(v, self.g, self.eps))
            if self.bias is not None:
                conv.bias.copy_(self.bias)
        return conv

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(
            x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
            f"groups={self.groups}, bias={self.bias is not None}"
        )


_WN_TYPES = (WeightNormLinear, WeightNormConv2d)


class MeanOnlyBatchNorm(nn.Module):
    """Mean-only batch normalization (paper sec. 4): ``y = t - mu[t] + b``.

    In training mode ``mu`` is the minibatch mean per feature (over the batch, and over the
    spatial positions for (N, C, H, W) inputs); the running average is updated as in the
    reference code, ``avg <- (1 - momentum) avg + momentum mu`` with momentum 0.1. In eval mode
    the running average is subtracted. Unlike full batch norm there is no division by the std.
    Use it after a layer whose own bias is dropped; ``b`` is this module's ``bias``.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.num_features = num_features
        self.momentum = momentum
        factory = {"device": device, "dtype": dtype}
        self.bias = nn.Parameter(torch.zeros(num_features, **factory)) if bias else None
        self.register_buffer("running_mean", torch.zeros(num_features, **factory))

    def _feature_view(self, x: Tensor, t: Tensor) -> Tensor:
        return t.view(1, -1, *([1] * (x.dim() - 2)))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"MeanOnlyBatchNorm expected (N, {self.num_features}, ...) input, "
                f"got shape {tuple(x.shape)}"
            )
        if self.training:
            dims = [0, *range(2, x.dim())]
            mean = x.mean(dim=dims)
            with torch.no_grad():
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), self.momentum)
        else:
            mean = self.running_mean
        out = x - self._feature_view(x, mean)
        if self.bias is not None:
            out = out + self._feature_view(x, self.bias)
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, bias={self.bias is not None}"


# --------------------------------------------------------------------------------------------
# Converting whole modules
# --------------------------------------------------------------------------------------------


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


def _replace_children(module: nn.Module, convert: Callable[[nn.Module], nn.Module | None]) -> None:
    for name, child in list(module.named_children()):
        replacement = convert(child)
        if replacement is not None:
            setattr(module, name, replacement)
        else:
            _replace_children(child, convert)


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
    _replace_children(module, convert)
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
        if isinstance(child, _WN_TYPES):
            return _fold_layer(child, None)
        if (
            type(child) is nn.Sequential
            and len(child) == 2
            and isinstance(child[0], _WN_TYPES)
            and isinstance(child[1], MeanOnlyBatchNorm)
        ):
            return _fold_layer(child[0], child[1])
        return None

    replacement = convert(module)
    if replacement is not None:
        return replacement
    _replace_children(module, convert)
    return module


def weight_norm_layers(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """``(qualified name, layer)`` for every weight-normalized layer inside ``module``."""
    for name, child in module.named_modules():
        if isinstance(child, _WN_TYPES):
            yield name, child


def enable_inference_cache(module: nn.Module, enabled: bool = True) -> int:
    """Turn the no-grad weight cache of every WN layer in ``module`` on (or off); returns how
    many layers there are.

    With the cache on, a no-grad forward reuses each layer's normalized weight (or, for large
    Linear layers, its per-unit scale ``g/||v||``) until ``v`` or ``g`` change, so acting costs
    about what a plain network costs. Turn it on only for networks whose parameters are written
    the ways torch records (optimizer steps, ``load_state_dict``, in-place ops): not for target
    networks updated through ``.data`` (SB3's ``polyak_update``). For fused optimizers, also
    call :func:`track_optimizer_writes`. The wnrl SB3 policies do both for their acting
    networks.
    """
    layers = [layer for _, layer in weight_norm_layers(module)]
    for layer in layers:
        layer.cache_inference = bool(enabled)
        layer.clear_cache()
    return len(layers)


def clear_inference_cache(module: nn.Module) -> None:
    """Drop the cached weights of every WN layer in ``module``: call it after writing
    parameters in a way the cache cannot see (through ``.data`` aliases, ``.numpy()``,
    DLPack)."""
    for _, layer in weight_norm_layers(module):
        layer.clear_cache()


@contextlib.contextmanager
def inference_cache(module: nn.Module) -> Iterator[nn.Module]:
    """Scoped cache, in the spirit of ``torch.nn.utils.parametrize.cached()``: inside the
    ``with`` block no-grad forwards of ``module`` reuse its normalized weights; on exit each
    layer's setting is restored and the cached tensors are dropped."""
    layers = [layer for _, layer in weight_norm_layers(module)]
    previous = [layer.cache_inference for layer in layers]
    for layer in layers:
        layer.cache_inference = True
    try:
        yield module
    finally:
        for layer, setting in zip(layers, previous, strict=True):
            layer.cache_inference = setting
            layer.clear_cache()


def is_weight_normalized(layer: nn.Module) -> bool:
    """True for :class:`WeightNormLinear` and :class:`WeightNormConv2d`."""
    return isinstance(layer, _WN_TYPES)


@torch.no_grad()
def paper_init_(module: nn.Module, std: float = 0.05) -> nn.Module:
    """Paper sec. 3, step 1: ``v ~ N(0, std^2)``, ``g = 1``, ``b = 0`` for every WN layer."""
    for _, layer in weight_norm_layers(module):
        layer.v.normal_(0.0, std)
        layer.g.fill_(1.0)
        if layer.bias is not None:
            layer.bias.zero_()
    return module


# --------------------------------------------------------------------------------------------
# Data-dependent initialization (paper sec. 3)
# --------------------------------------------------------------------------------------------

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
    if isinstance(layer, _WN_TYPES):
        direction = layer.v / _unit_norms(layer.v, eps).view(-1, *([1] * (layer.v.dim() - 1)))
    else:
        direction = layer.weight
    if isinstance(layer, (WeightNormLinear, nn.Linear)):
        return F.linear(x, direction)
    return F.conv2d(x, direction, None, layer.stride, layer.padding, layer.dilation, layer.groups)


def _rescale(layer: nn.Module, mean: Tensor, std: Tensor, scale: float) -> None:
    """Paper sec. 3: ``g <- s / sigma``, ``b <- -s mu / sigma`` (plain layers: w and b rescaled)."""
    factor = scale / std
    if isinstance(layer, _WN_TYPES):
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
        if isinstance(layer, _WN_TYPES) or (
            include_plain and type(layer) in (nn.Linear, nn.Conv2d)
        ):
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
