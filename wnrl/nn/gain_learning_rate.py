"""A learning rate of its own for the gains ``g`` of weight-normalized layers (torch only).

Weight norm splits each weight vector into a length ``g`` and a direction ``v/||v||`` (paper
eq. 2) and shows that they learn differently: the gradient of ``g`` is the projection of the
weight gradient on the direction (eq. 3), while the step on ``v`` is scaled by ``g/||v||`` and
orthogonal to ``w`` (eq. 4, sec. 2.1). Whether ``g`` should then share the learning rate of
``v`` is an open design choice; this module makes it a setting, for the ablation that measures
it (README, Results).

:func:`scale_gain_learning_rate` moves the ``g`` parameters an optimizer updates into param
groups of their own, tagged ``gain_lr_scale``, and before each step of that optimizer sets
their ``lr`` to ``gain_lr_scale`` times the ``lr`` of the group they came from. Schedules that
write one learning rate into every group (SB3's ``update_learning_rate``) keep working: the
scale is reapplied at every step. The groups are part of the optimizer's state dict, so an
optimizer built the same way loads it. A step pre-hook on that optimizer instance alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from wnrl.nn.convert import weight_norm_layers

__all__ = ["GAIN_LR_SCALE_KEY", "check_gain_lr_scale", "scale_gain_learning_rate"]

#: The key that marks a param group of gains (its value: the scale of the learning rate).
GAIN_LR_SCALE_KEY = "gain_lr_scale"
#: The key that points a gain group at the index of the group its parameters came from.
_SOURCE_KEY = "gain_lr_source"


def check_gain_lr_scale(scale: Any) -> float:
    """``scale`` as a float, or ValueError: a finite number >= 0 (0 freezes ``g``)."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ValueError(f"gain_lr_scale must be a number >= 0, got {scale!r}")
    value = float(scale)
    if not value >= 0.0 or value == float("inf"):
        raise ValueError(f"gain_lr_scale must be a finite number >= 0, got {scale!r}")
    return value


def scale_gain_learning_rate(
    optimizer: torch.optim.Optimizer, module: nn.Module, scale: float
) -> RemovableHandle | None:
    """Train the ``g`` of ``module``'s weight-normalized layers at ``scale`` times the learning
    rate of the other parameters of ``optimizer``.

    Each param group that holds gains is split in two: the gains move to a new group with the
    same settings plus ``gain_lr_scale`` (and the index of the group they came from); before
    every step the new group's ``lr`` is set to ``scale`` times that group's current ``lr``.
    Call it on a fresh optimizer (no step taken yet). Idempotent: returns None if ``optimizer``
    has gain groups already (built here, or loaded from a state dict that has them), or when
    it updates no gains.
    """
    scale = check_gain_lr_scale(scale)
    if any(GAIN_LR_SCALE_KEY in group for group in optimizer.param_groups):
        return _register(optimizer)
    gains = {id(layer.g) for _, layer in weight_norm_layers(module)}  # type: ignore[union-attr]
    split: list[dict[str, Any]] = []
    for index, group in enumerate(optimizer.param_groups):
        moving = [param for param in group["params"] if id(param) in gains]
        if not moving:
            continue
        if any(param in optimizer.state for param in moving):
            raise ValueError("scale_gain_learning_rate needs an optimizer that took no step yet")
        group["params"] = [param for param in group["params"] if id(param) not in gains]
        settings = {key: value for key, value in group.items() if key != "params"}
        split.append({**settings, "params": moving, GAIN_LR_SCALE_KEY: scale, _SOURCE_KEY: index})
    for group in split:
        optimizer.add_param_group(group)
    return _register(optimizer) if split else None


def _register(optimizer: torch.optim.Optimizer) -> RemovableHandle | None:
    if optimizer.__dict__.get("_wnrl_scales_gain_lr"):
        return None

    def apply_scale(_: torch.optim.Optimizer, args: Any = (), kwargs: Any = None) -> None:
        groups = optimizer.param_groups
        for group in groups:
            if GAIN_LR_SCALE_KEY in group:
                group["lr"] = groups[group[_SOURCE_KEY]]["lr"] * group[GAIN_LR_SCALE_KEY]

    apply_scale(optimizer)
    handle = optimizer.register_step_pre_hook(apply_scale)
    optimizer.__dict__["_wnrl_scales_gain_lr"] = True
    return handle
