"""Normalize-and-Project for weight-normalized layers (torch only).

Weight norm makes a layer's function independent of ``||v||`` (``w = g v/||v||``, paper eq. 2),
but the gradient step on ``v`` is scaled by ``g/||v||`` (paper sec. 2.1, eq. 4), and ``||v||``
grows under gradient descent (sec. 2.1: it grows with the size of each update), so the effective
learning rate of the direction decays over training. Projecting ``v`` back to unit norm per
output unit after every optimizer step keeps that rate fixed without changing the function
(Lyle et al. 2024, "Normalization and effective learning rates in reinforcement learning",
arXiv:2407.01800; SimbaV2, arXiv:2502.15280, projects its weights the same way).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from wnrl.nn.convert import weight_norm_layers

__all__ = ["project_directions_", "project_after_steps"]


@torch.no_grad()
def project_directions_(module: nn.Module, only: set[int] | None = None) -> int:
    """Rescale ``v`` of every weight-normalized layer of ``module`` to unit norm per output
    unit, in place (``g`` untouched, so every output is unchanged). ``only``: ids of the ``v``
    parameters to project (default: all). Returns how many layers were projected."""
    count = 0
    for _, layer in weight_norm_layers(module):
        v = layer.v  # type: ignore[union-attr]
        if only is not None and id(v) not in only:
            continue
        norms = layer.direction_norm()  # type: ignore[operator]
        v.div_(norms.view(-1, *([1] * (v.dim() - 1))))
        count += 1
    return count


def project_after_steps(
    optimizer: torch.optim.Optimizer, module: nn.Module
) -> RemovableHandle | None:
    """After each step of ``optimizer``, project (:func:`project_directions_`) the layers of
    ``module`` whose ``v`` that optimizer updates; projects them once now too. A step post-hook
    on this optimizer instance alone; idempotent (returns None if it was registered before)."""
    if optimizer.__dict__.get("_wnrl_projects_directions"):
        return None

    def project(_: torch.optim.Optimizer, args: Any = (), kwargs: Any = None) -> None:
        stepped = {id(param) for group in optimizer.param_groups for param in group["params"]}
        project_directions_(module, stepped)

    project(optimizer)

    handle = optimizer.register_step_post_hook(project)
    optimizer.__dict__["_wnrl_projects_directions"] = True
    return handle
