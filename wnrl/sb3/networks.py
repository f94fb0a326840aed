"""The networks a wnrl policy builds through SB3's ``make_*`` hooks, normalized at construction.

``QNetwork`` (DQN), ``QuantileNetwork`` (QR-DQN), SAC's and TD3's ``Actor`` and
``ContinuousCritic``, each subclassed so that it rewrites its own Linear/Conv2d layers for
its :class:`~wnrl.sb3.settings.PolicySettings` (:func:`wnrl.nn.norms.apply_norm`,
function-preserving), records them in its constructor parameters (SB3's ``BaseModel.save`` /
``load`` rebuild it as it was), takes image inputs in one pass
(:mod:`wnrl.sb3.preprocessing`) and tracks the writes of the optimizer SB3 assigns to it
(:func:`wnrl.layers.track_optimizer_writes`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import replace
from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.qrdqn.policies import QuantileNetwork
from stable_baselines3.common.policies import ContinuousCritic
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, NatureCNN
from stable_baselines3.dqn.policies import QNetwork
from stable_baselines3.sac.policies import Actor as SACActor
from stable_baselines3.td3.policies import Actor as TD3Actor
from torch import nn

from wnrl.nn.cache import track_optimizer_writes
from wnrl.nn.fastpath import use_channels_last
from wnrl.nn.gain_learning_rate import scale_gain_learning_rate
from wnrl.nn.layers import WeightNormLinear
from wnrl.nn.norms import apply_norm, projects_directions
from wnrl.nn.projection import project_after_steps
from wnrl.sb3.preprocessing import FastImageInput
from wnrl.sb3.settings import NETWORK_DEFAULTS, SETTING_NAMES, PolicySettings

__all__ = ["WNQNetwork", "WNQuantileNetwork", "WNSACActor", "WNTD3Actor", "WNContinuousCritic"]

_LINEAR_TYPES = (nn.Linear, WeightNormLinear)


def _last_linear(module: nn.Module) -> nn.Module:
    """The last Linear-like layer of a network, in registration (= forward) order."""
    found = [m for m in module.modules() if isinstance(m, _LINEAR_TYPES)]
    if not found:
        raise ValueError(f"no linear output layer in {type(module).__name__}")
    return found[-1]


class TracksOptimizerWrites:
    """Every optimizer assigned to ``self.optimizer`` (by SB3's ``_build``, or by the user) gets
    :func:`wnrl.layers.track_optimizer_writes`: fused kernels then bump version counters, and
    the inference cache of the acting networks sees every step. Under ``norm="wn+proj"`` it
    also projects the directions it updates after each step
    (:func:`wnrl.nn.projection.project_after_steps`); with a ``gain_lr_scale`` other than 1 the
    gains ``g`` get their own learning rate (:func:`wnrl.nn.gain_learning_rate`)."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "optimizer" and isinstance(value, torch.optim.Optimizer):
            if projects_directions(getattr(self, "norm", "none")):
                project_after_steps(value, self)  # type: ignore[arg-type]
            gain_lr_scale = getattr(self, "gain_lr_scale", 1.0)
            if gain_lr_scale != 1.0:
                scale_gain_learning_rate(value, self, gain_lr_scale)  # type: ignore[arg-type]
            track_optimizer_writes(value)


def channels_last_around_nature_cnn(extractors: list[Any]) -> bool:
    """Channels-last conv inputs for SB3's own ``NatureCNN`` extractors (which flatten with
    ``nn.Flatten``; a custom extractor may ``.view`` its conv outputs, which needs NCHW).
    Returns whether every one of ``extractors`` takes channels-last image inputs."""
    present = [extractor for extractor in extractors if extractor is not None]
    for extractor in present:
        if type(extractor) is NatureCNN:
            use_channels_last(extractor)
    return bool(present) and all(type(extractor) is NatureCNN for extractor in present)


class HasSettings:
    """``norm``, ``channels_last``, ``plain_heads`` and ``gain_lr_scale`` read from the one
    :class:`~wnrl.sb3.settings.PolicySettings` the object was built with."""

    settings: PolicySettings

    @property
    def norm(self) -> str:
        return self.settings.norm

    @property
    def channels_last(self) -> bool:
        return self.settings.channels_last

    @property
    def plain_heads(self) -> bool:
        return self.settings.plain_heads

    @property
    def gain_lr_scale(self) -> float:
        return self.settings.gain_lr_scale


class NormalizedNetwork(HasSettings, TracksOptimizerWrites, FastImageInput):
    """What every network a wnrl policy builds adds to its SB3 class (``QNetwork``, ``Actor``,
    ``ContinuousCritic``...): the ``norm`` rewrite at construction, recorded in the constructor
    parameters, one-pass image input and channels-last NatureCNN convolutions.

    A policy passes its ``settings`` whole; a network rebuilt from a saved file (SB3's
    ``BaseModel.load``) gets them as keyword arguments (:meth:`PolicySettings.as_kwargs`); a
    network built with neither is SB3's own (:data:`~wnrl.sb3.settings.NETWORK_DEFAULTS`).
    """

    def __init__(self, *args: Any, settings: PolicySettings | None = None, **kwargs: Any) -> None:
        named = {key: kwargs.pop(key) for key in SETTING_NAMES if key in kwargs}
        if settings is None:
            settings = replace(NETWORK_DEFAULTS, **named) if named else NETWORK_DEFAULTS
        elif named:
            raise TypeError(f"give either settings or {', '.join(named)}, not both")
        super().__init__(*args, **kwargs)
        self.settings = settings
        heads = list(self.output_heads())  # type: ignore[attr-defined]
        apply_norm(self, settings.norm, heads=heads, plain_heads=settings.plain_heads)  # type: ignore[arg-type]
        extractor = getattr(self, "features_extractor", None)
        self.image_channels_last = settings.channels_last and channels_last_around_nature_cnn(
            [extractor]
        )

    @abstractmethod
    def output_heads(self) -> dict[nn.Module, str]:
        """This network's output layers and their roles (policy, value or q)."""

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(self.settings.as_kwargs())
        return data


class WNQNetwork(NormalizedNetwork, QNetwork):
    """SB3's ``QNetwork`` (DQN), normalized at construction."""

    def output_heads(self) -> dict[nn.Module, str]:
        return {_last_linear(self.q_net): "q"}


class WNQuantileNetwork(NormalizedNetwork, QuantileNetwork):
    """sb3-contrib's ``QuantileNetwork`` (QR-DQN), normalized at construction."""

    def output_heads(self) -> dict[nn.Module, str]:
        return {_last_linear(self.quantile_net): "q"}


class WNSACActor(NormalizedNetwork, SACActor):
    """SB3's SAC ``Actor``, normalized at construction (mean and log-std heads: policy)."""

    def output_heads(self) -> dict[nn.Module, str]:
        heads = {_last_linear(self.mu): "policy"}
        if isinstance(self.log_std, nn.Module):
            heads[_last_linear(self.log_std)] = "policy"
        return heads


class WNTD3Actor(NormalizedNetwork, TD3Actor):
    """SB3's TD3 ``Actor``, normalized at construction (action head: policy)."""

    def output_heads(self) -> dict[nn.Module, str]:
        return {_last_linear(self.mu): "policy"}


class WNContinuousCritic(NormalizedNetwork, ContinuousCritic):
    """SB3's ``ContinuousCritic`` (SAC, TD3), normalized at construction (Q heads: q).

    Unlike SB3's, it records every constructor argument, so ``BaseModel.load`` rebuilds it.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Box,
        net_arch: list[int],
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        n_critics: int = 2,
        share_features_extractor: bool = True,
        **settings: Any,
    ) -> None:
        super().__init__(
            observation_space,
            action_space,
            net_arch,
            features_extractor,
            features_dim,
            activation_fn,
            normalize_images,
            n_critics,
            share_features_extractor,
            **settings,
        )
        self._architecture = {
            "net_arch": list(net_arch),
            "features_dim": features_dim,
            "activation_fn": activation_fn,
            "n_critics": n_critics,
            "share_features_extractor": share_features_extractor,
        }

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(self._architecture, features_extractor=self.features_extractor)
        return data

    def output_heads(self) -> dict[nn.Module, str]:
        return {_last_linear(q): "q" for q in self.q_networks}
