"""Features extractors wnrl adds to SB3's: :class:`MinAtarCNN` for binary-grid observations.

MinAtar (Young & Tian 2019) observes a ``(10, 10, C)`` grid of booleans, one channel per kind of
object. SB3's ``NatureCNN`` cannot take it (its 8x8 stride-4 kernel leaves a 1x1 map of a
10x10 input, and SB3 only treats ``uint8`` boxes as images), so a policy would flatten it into an
MLP. :class:`MinAtarCNN` is the MinAtar paper's own network body: one 3x3 convolution with 16
channels (stride 1, no padding) and a 128-unit hidden layer, both ReLU. Under weight norm its
layers are normalized like every other (:func:`wnrl.nn.norms.apply_norm`).
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["MinAtarCNN", "is_binary_grid_space"]

#: The smallest grid side a 3x3 convolution without padding leaves a map of (1x1).
_MIN_SIDE = 3


def is_binary_grid_space(space: spaces.Space) -> bool:
    """Whether ``space`` is a boolean ``(H, W, C)`` grid (channel last), as MinAtar's."""
    return (
        isinstance(space, spaces.Box)
        and space.dtype == np.bool_
        and len(space.shape) == 3
        and min(space.shape[:2]) >= _MIN_SIDE
    )


class MinAtarCNN(BaseFeaturesExtractor):
    """The MinAtar paper's network body (Young & Tian 2019, sec. 4): Conv2d(C, 16, 3) + ReLU,
    flatten, Linear(16 (H-2)(W-2), ``features_dim``) + ReLU.

    Takes ``(N, H, W, C)`` observations (channel last, booleans or floats in [0, 1]); the
    convolution sees them as NCHW through a permuted view (channels-last memory, no copy).
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 128) -> None:
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 3:
            raise ValueError(
                f"MinAtarCNN needs a (height, width, channels) Box, got {observation_space}"
            )
        height, width, channels = observation_space.shape
        if min(height, width) < _MIN_SIDE:
            raise ValueError(f"MinAtarCNN needs a grid of at least 3x3, got {height}x{width}")
        super().__init__(observation_space, features_dim)
        self.cnn = nn.Sequential(
            nn.Conv2d(channels, 16, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.linear = nn.Sequential(
            nn.Linear(16 * (height - 2) * (width - 2), features_dim),
            nn.ReLU(),
        )

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cnn(observations.float().permute(0, 3, 1, 2)))
