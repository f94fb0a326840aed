"""Speed settings that leave the computed function unchanged.

Three levers (their measured effect is in docs/performance.md):

* **Channels-last convolution inputs.** oneDNN (the CPU) runs convolutions fastest on NHWC
  tensors, but SB3 hands its CNNs NCHW observations, so every convolution pays for a layout
  conversion or a slower kernel. :func:`use_channels_last` adds a forward pre-hook to every
  2-D convolution that hands it a channels-last copy of its CPU input (CUDA, not measured yet,
  keeps NCHW). The memory layout changes, the values do not (outputs agree to float rounding;
  the parameters keep their layout, so checkpoints are unchanged).
* **Fused optimizers.** torch's optimizers default to a per-tensor Python loop on the CPU;
  the fused kernel makes one pass over each tensor. :func:`fast_optimizer_kwargs` picks
  ``fused=True`` where the optimizer has a fused kernel, else ``foreach=True``, unless the
  caller chose.
* **A compiled optimizer step.** Optimizers without a fused CPU kernel (RMSprop, Adamax...)
  run several passes over every tensor per step, each a separate kernel;
  :func:`compile_optimizer_step` has ``torch.compile`` (inductor) turn one optimizer's step
  into fused loops. It pays only in long runs: the first step compiles for seconds, and a
  learning rate that changes between steps makes it compile again (the caller decides:
  :mod:`wnrl.experiment.compiled_optimizer` for wnrl's runs).

Imports torch only, like :mod:`wnrl.layers`.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor, nn

from wnrl.nn.layers import WeightNormConv2d

__all__ = [
    "use_channels_last",
    "fast_optimizer_kwargs",
    "CONV_TYPES",
    "CHANNELS_LAST_DEVICES",
    "FUSED_BY_DEFAULT",
    "compile_optimizer_step",
    "has_compiled_step",
]

#: The 2-D convolutions whose inputs :func:`use_channels_last` converts.
CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, WeightNormConv2d)

#: Devices whose convolutions get channels-last inputs: the CPU, where it was measured
#: (oneDNN). CUDA keeps SB3's NCHW layout until a GPU measurement says otherwise.
CHANNELS_LAST_DEVICES: frozenset[str] = frozenset({"cpu"})

#: Optimizers that default to their fused kernel: those with fused kernels on the CPU (torch
#: >= 2.4) and on CUDA in every torch that has CPU ones (older torch had CPU-only fused Adagrad).
FUSED_BY_DEFAULT: tuple[type[torch.optim.Optimizer], ...] = (torch.optim.Adam, torch.optim.AdamW)

#: Keyword arguments that select an optimizer's implementation; if the caller set any, the
#: choice is theirs.
_IMPLEMENTATION_KWARGS = ("foreach", "fused", "differentiable", "capturable")


def _channels_last_input(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Forward pre-hook: the convolution's batched input as a channels-last tensor."""
    x = args[0] if args else None
    if (
        isinstance(x, Tensor)
        and x.dim() == 4
        and x.device.type in CHANNELS_LAST_DEVICES
        and not x.is_contiguous(memory_format=torch.channels_last)
    ):
        return (x.contiguous(memory_format=torch.channels_last), *args[1:])
    return None


def use_channels_last(module: nn.Module) -> int:
    """Feed every 2-D convolution in ``module`` channels-last inputs on the devices of
    :data:`CHANNELS_LAST_DEVICES`; returns how many convolutions have the hook.

    Idempotent (a convolution gets the hook once). Run it after the layers are final: a
    convolution replaced later (e.g. by :func:`wnrl.layers.weight_norm`) has no hook.
    """
    count = 0
    for layer in module.modules():
        if isinstance(layer, CONV_TYPES):
            if _channels_last_input not in layer._forward_pre_hooks.values():
                layer.register_forward_pre_hook(_channels_last_input)
            count += 1
    return count


def _fused_supported_on_cpu() -> bool:
    """Whether this torch has fused optimizer kernels for CPU tensors (torch >= 2.4)."""
    from torch.optim import optimizer as optimizer_module

    supported = getattr(optimizer_module, "_get_fused_kernels_supported_devices", None)
    return supported is not None and "cpu" in supported()


def fast_optimizer_kwargs(
    optimizer_class: type[torch.optim.Optimizer], optimizer_kwargs: dict[str, Any] | None
) -> dict[str, Any]:
    """``optimizer_kwargs`` plus ``fused=True`` (:data:`FUSED_BY_DEFAULT`: Adam, AdamW) or else
    ``foreach=True`` (Adamax, RMSprop...), unless the caller set an implementation keyword.

    The fused and foreach kernels compute the optimizer's update rule, as the per-tensor loop
    does, to float rounding. Parameters must be on a device with fused kernels (CPU, CUDA, MPS
    in current torch).
    """
    kwargs = dict(optimizer_kwargs or {})
    if any(key in kwargs for key in _IMPLEMENTATION_KWARGS):
        return kwargs
    accepted = inspect.signature(optimizer_class.__init__).parameters
    fusable = "fused" in accepted and issubclass(optimizer_class, FUSED_BY_DEFAULT)
    if fusable and _fused_supported_on_cpu():
        kwargs["fused"] = True
    elif "foreach" in accepted:
        kwargs["foreach"] = True
    return kwargs


#: Marks an optimizer instance whose ``step`` :func:`compile_optimizer_step` compiled.
_COMPILED_STEP = "_wnrl_compiled_step"


def has_compiled_step(optimizer: torch.optim.Optimizer) -> bool:
    """Whether :func:`compile_optimizer_step` compiled this optimizer instance's step."""
    return bool(optimizer.__dict__.get(_COMPILED_STEP))


def compile_optimizer_step(optimizer: torch.optim.Optimizer) -> bool:
    """Make this optimizer instance's ``step`` a ``torch.compile`` d one; idempotent (False if
    it already was).

    The update rule is the optimizer's own, traced by dynamo (its step hooks and version bumps
    included), so parameters move as the eager step moves them, to float rounding. Only this
    instance changes (an attribute that shadows the class's method; its ``state_dict`` and
    pickled state are unchanged). The first call compiles (seconds to tens of seconds; inductor
    needs a C++ compiler on the CPU), and a changed learning rate or other hyperparameter
    compiles again: use it for long runs at a constant learning rate.
    """
    if has_compiled_step(optimizer):
        return False
    optimizer.step = torch.compile(optimizer.step)  # type: ignore[method-assign]
    optimizer.__dict__[_COMPILED_STEP] = True
    return True
