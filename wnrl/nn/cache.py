"""Switches of the weight-norm layers' inference cache, and making optimizer writes visible to it.

With autograd off, a WN layer can reuse its normalized weight until ``v`` or ``g`` change, so
acting costs about what a plain layer costs. The cache is opt-in and scoped to the modules you
name. Fused optimizers write without bumping version counters: :func:`track_optimizer_writes`
adds a step hook to that optimizer instance (nothing process-wide).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from wnrl.nn.convert import weight_norm_layers


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


def enable_inference_cache(module: nn.Module, enabled: bool = True) -> int:
    """Turn the no-grad weight cache of every WN layer in ``module`` on (or off); returns how
    many layers there are.

    With the cache on, a no-grad forward reuses each layer's normalized weight (or, for Linear
    layers of ``CHEAP_ACT_MIN_WEIGHTS`` weights or more, its per-unit scale ``g/||v||``) until
    ``v`` or ``g`` change, so acting costs about what a plain network costs. Turn it on only for
    networks whose parameters are written the ways torch records (optimizer steps,
    ``load_state_dict``, in-place ops): not for target networks updated through ``.data``
    (SB3's ``polyak_update``). For fused optimizers, also call :func:`track_optimizer_writes`.
    The wnrl SB3 policies do both for their acting networks.
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
