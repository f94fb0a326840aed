"""One-pass image preprocessing for the wnrl networks.

SB3's ``preprocess_obs`` turns an image batch into network input with ``obs.float() / 255``:
two passes over a float copy, in NCHW layout, which the channels-last convolutions of
:mod:`wnrl.nn.fastpath` then copy once more. :func:`normalized_image` writes the same values (bit
for bit) straight into a channels-last float tensor: one conversion pass and one in-place
division (docs/performance.md has the measured gain).

:class:`FastImageInput` is a mixin for SB3 networks (``BaseModel`` subclasses: ``QNetwork``,
SAC/TD3 ``Actor`` and ``ContinuousCritic``...) whose ``extract_features`` takes this path for
uint8 image observations and SB3's own path for everything else.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from torch import Tensor

from wnrl.nn.fastpath import CHANNELS_LAST_DEVICES

__all__ = ["normalized_image", "fast_image_input", "FastImageInput"]


def normalized_image(obs: Tensor, channels_last: bool = True) -> Tensor:
    """``obs.float() / 255`` (SB3's image preprocessing) for a uint8 batch, equal bit for bit,
    laid out channels-last when ``channels_last`` and ``obs`` is 4-D."""
    memory_format = (
        torch.channels_last if channels_last and obs.dim() == 4 else torch.contiguous_format
    )
    out = torch.empty(
        obs.shape, dtype=torch.float32, device=obs.device, memory_format=memory_format
    )
    out.copy_(obs)
    return out.div_(255.0)


def fast_image_input(model: Any, obs: Any) -> Tensor | None:
    """The preprocessed input of ``model`` (an SB3 ``BaseModel``) for ``obs`` when SB3 would
    normalize it as an image (a uint8 tensor for a Box image space, ``normalize_images``), else
    None (then SB3's ``preprocess_obs`` applies). Channels-last when
    ``model.image_channels_last`` (default False: only an extractor known to accept it, such
    as SB3's NatureCNN, should get it) and the device is in
    :data:`wnrl.nn.fastpath.CHANNELS_LAST_DEVICES`."""
    if not (isinstance(obs, Tensor) and obs.dtype == torch.uint8):
        return None
    state = model.__dict__
    is_image = state.get("_wnrl_image_input")
    if is_image is None:  # the space is fixed: decide once (is_image_space is not free)
        space = model.observation_space
        is_image = bool(
            isinstance(space, spaces.Box) and model.normalize_images and is_image_space(space)
        )
        state["_wnrl_image_input"] = is_image
    if not is_image:
        return None
    channels_last = state.get("image_channels_last", False)
    channels_last = channels_last and obs.device.type in CHANNELS_LAST_DEVICES
    return normalized_image(obs, channels_last)


class FastImageInput:
    """Mixin for SB3 networks: :func:`fast_image_input` in ``extract_features``.

    Put it before the SB3 class: ``class Net(FastImageInput, QNetwork)``. The instance
    attribute ``image_channels_last`` (default False) picks the layout of image inputs.
    """

    def extract_features(self, obs: Any, features_extractor: Any) -> Tensor:
        image = fast_image_input(self, obs)
        if image is None:
            return super().extract_features(obs, features_extractor)  # type: ignore[misc]
        return features_extractor(image)
