"""The weight-normalized layers ``WeightNormLinear`` and ``WeightNormConv2d`` (paper eq. 2).

Each stores a direction ``v`` (output axis 0), one scale ``g`` per output unit and a bias, and
computes with ``w = g v / ||v||``. With autograd on (the train step) ``w`` is rebuilt on every
call, as torch's own ``parametrizations.weight_norm`` does; with autograd off a layer can reuse
``w``, or the per-unit scale ``g/||v||``, between calls (its opt-in inference cache, switched by
:mod:`wnrl.nn.cache`), keyed on torch's version counters and storage addresses of ``v`` and ``g``
(nothing is patched).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wnrl.nn.functional import (
    DEFAULT_EPS,
    WeightNormLinearFunction,
    differentiable_weight,
    normalized_weight,
    unit_norms,
    unit_scale,
)

#: Linear layers with at least this many weights train with eq. 3's cheap form (see
#: ``WeightNormLinear.forward``); chosen with ``scripts/bench_layers.py``.
CHEAP_FORM_MIN_WEIGHTS = 1 << 18
#: Linear layers with at least this many weights act (no autograd) with eq. 3's cheap form,
#: smaller ones with the weight (measured either side: docs/performance.md, Layers).
CHEAP_ACT_MIN_WEIGHTS = 1 << 15


def _parameter(tensor: Tensor) -> nn.Parameter:
    return nn.Parameter(tensor.detach().clone(), requires_grad=True)


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
        self.g = _parameter(unit_norms(weight.detach(), eps))
        self.bias = _parameter(bias) if bias is not None else None
        self.cache_inference = False
        self._cache: tuple[Tensor, Tensor, tuple[Any, ...], Tensor] | None = None

    def _cached(self, compute: Callable[[Tensor, Tensor, float], Tensor]) -> Tensor:
        """``compute(v, g, eps)`` without autograd, reused while ``v`` and ``g`` are unchanged.

        Only with :attr:`cache_inference` on (:func:`enable_inference_cache`). The cached value
        is keyed on what was computed and on the identity, version counter and storage address
        of ``v`` and ``g``, so every write that torch records is seen: optimizer steps (fused
        kernels through :func:`track_optimizer_writes`), ``load_state_dict``, in-place ops
        under ``torch.no_grad()``, ``.data =`` assignment and device or dtype moves. Not seen:
        in-place writes through a ``.data`` alias (SB3's ``polyak_update`` on target networks,
        which is why targets keep the cache off), ``.numpy()`` or DLPack views; call
        :meth:`clear_cache` after those. One slot per layer: nothing accumulates.
        """
        v, g = self._parameters["v"], self._parameters["g"]
        if not self.cache_inference or torch.compiler.is_compiling():
            return compute(v, g, self.eps)
        key = (compute, v._version, g._version, v.data_ptr(), g.data_ptr())
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
            return differentiable_weight(self.v, self.g, self.eps)
        return self._cached(normalized_weight)

    def direction_norm(self) -> Tensor:
        """``||v||`` per output unit (paper sec. 2.1: it grows during training)."""
        with torch.no_grad():
            return unit_norms(self.v, self.eps)

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
            state_dict[prefix + "g"] = unit_norms(weight.detach().to(self.v.dtype), self.eps)
        self._cache = None
        super()._load_from_state_dict(  # type: ignore[misc]
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def effective_step_scale(self) -> Tensor:
        """``g / ||v||`` per output unit: the factor that scales gradient steps on ``v`` (eq. 4)."""
        with torch.no_grad():
            return self.g / unit_norms(self.v, self.eps)


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
            layer.weight.copy_(normalized_weight(v, self.g, self.eps))
            if self.bias is not None:
                layer.bias.copy_(self.bias)
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """Paper eq. 2 for small layers in training; eq. 3's cheap form otherwise.

        Training (autograd on), small layers (fewer than :data:`CHEAP_FORM_MIN_WEIGHTS`
        weights) are bound by per-op overhead: ``F.linear`` with the normalized weight (torch's
        fused weight-norm kernel) is fastest. Large ones (NatureCNN's 3136x512 layer) are bound
        by memory traffic: ``y = (g/||v||) (v . x) + b`` never materializes the weight, through
        :class:`WeightNormLinearFunction`. Without autograd (acting, target networks), layers
        of at least :data:`CHEAP_ACT_MIN_WEIGHTS` weights use the cheap form with the per-unit
        scale ``g/||v||`` (one pass over ``v`` for its norms instead of two for a weight), and
        smaller ones ``F.linear`` with the weight; either is cached when the inference cache is
        on. The form depends on the layer's size alone, so equal inputs and parameters give
        bit-identical outputs whatever the calls before.
        """
        if not torch.is_grad_enabled():
            if self.v.numel() < CHEAP_ACT_MIN_WEIGHTS:
                return F.linear(x, self._cached(normalized_weight), self.bias)
            scale = self._cached(unit_scale)
            out = F.linear(x, self.v)
            return torch.addcmul(self.bias, out, scale) if self.bias is not None else out * scale
        if self.v.numel() < CHEAP_FORM_MIN_WEIGHTS or torch.compiler.is_compiling():
            return F.linear(x, self.weight, self.bias)
        # norms computed here, never taken from the act-path cache: a write the cache cannot see
        # would then cost a stale action, never a wrong gradient
        with torch.no_grad():
            norms = unit_norms(self.v, self.eps)
        return WeightNormLinearFunction.apply(x, self.v, self.g, self.bias, norms)

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
            conv.weight.copy_(normalized_weight(v, self.g, self.eps))
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


WN_TYPES = (WeightNormLinear, WeightNormConv2d)
