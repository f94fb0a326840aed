"""The replay buffer's public path (``wnrl.buffers``): :mod:`wnrl.sb3.buffers`."""

from wnrl.sb3.buffers import FRAME_SHAPE, STACK, AtariReplayBuffer

__all__ = ["FRAME_SHAPE", "STACK", "AtariReplayBuffer"]
