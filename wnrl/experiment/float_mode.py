"""Flushing subnormal floats to zero while a run trains (the run's ``flush_subnormals`` setting).

Optimizer state decays into the subnormal range (below 1.2e-38 in float32) wherever gradients
are zero for long, e.g. the inputs of dead ReLU units under RMSprop or Adam, and x86 CPUs
compute on subnormals many times slower than on normal floats. Flushing them to zero (the
CPU's FTZ/DAZ mode, :func:`torch.set_flush_denormal`) changes values below 1.2e-38 only.

The mode belongs to the thread that sets it: wnrl sets it around a run's training
(:func:`flushing_subnormals`) and puts the previous mode back afterwards; importing wnrl never
changes it. torch's intra-op worker threads keep their own mode (with several torch threads,
their share of a large operation is not flushed).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

#: A float32 subnormal: with the CPU's denormals-are-zero mode on, arithmetic reads it as 0.
_SUBNORMAL = 1e-39


def flushes_subnormals() -> bool:
    """Whether this thread's CPU float mode reads subnormal floats as zero now."""
    probe = torch.tensor([_SUBNORMAL], dtype=torch.float32)
    return bool((probe * 1.0).item() == 0.0)


@contextlib.contextmanager
def flushing_subnormals(enabled: bool) -> Iterator[None]:
    """Within the block, this thread flushes subnormals to zero (``enabled``) or keeps them;
    the previous mode is restored on leaving. Where the CPU has no such mode it is a no-op."""
    before = flushes_subnormals()
    torch.set_flush_denormal(enabled)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)
