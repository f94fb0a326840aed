"""The networks a wnrl policy builds through SB3's ``make_*`` hooks, normalized at construction.

``QNetwork`` (DQN), ``QuantileNetwork`` (QR-DQN), SAC's and TD3's ``Actor`` and
``ContinuousCritic``, each subclassed so that it rewrites its own Linear/Conv2d layers for
``norm`` (:func:`wnrl.nn.norms.apply_norm`, function-preserving), records ``norm``,
``channels_last``, ``plain_heads`` and ``gain_lr_scale`` in its constructor parameters (SB3's
``BaseModel.save`` / ``load`` rebuild it as it was), takes image inputs in one pass
(:mod:`wnrl.sb3.preprocessing`) and tracks the writes of the optimizer SB3 assigns to it
(:func:`wnrl.layers.track_optimizer_writes`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Mapping
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

from wnrl.errors import ConfigError
from wnrl.nn.cache import track_optimizer_writes
from wnrl.nn.convert import is_weight_normalized, replace_children
from wnrl.nn.fastpath import use_channels_last
from wnrl.nn.gain_learning_rate import check_gain_lr_scale, scale_gain_learning_rate
from wnrl.nn.layers import WeightNormLinear
from wnrl.nn.norms import apply_norm, check_norm, projects_directions
from wnrl.nn.projection import project_after_steps
from wnrl.sb3.preprocessing import FastImageInput

__all__ = ["WNQNetwork", "WNQuantileNetwork", "WNSACActor", "WNTD3Actor", "WNContinuousCritic"]

_LINEAR_TYPES = (nn.Linear, WeightNormLinear)


def _last_linear(module: nn.Module) -> nn.Module:
    """The last Linear-like layer of a network, in registration (= forward) order."""
    found = [m for m in module.modules() if isinstance(m, _LINEAR_TYPES)]
    if not found:
        raise ValueError(f"no linear output layer in {type(module).__name__}")
    return found[-1]


def check_settings(
    norm: str, channels_last: Any, plain_heads: Any = False, gain_lr_scale: Any = 1.0
) -> None:
    try:
        check_norm(norm)
        check_gain_lr_scale(gain_lr_scale)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    for name, value in (("channels_last", channels_last), ("plain_heads", plain_heads)):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")


def _saved_head_form(head_name: str, state_dict: Mapping[str, Any]) -> bool | None:
    """Whether ``state_dict`` holds the head weight-normalized (True), plain (False) or not at
    all (None)."""
    if f"{head_name}.v" in state_dict:
        return True
    if f"{head_name}.weight" in state_dict:
        return False
    return None


def _swap_optimizer_parameters(
    optimizer: torch.optim.Optimizer, swaps: dict[nn.Module, nn.Module]
) -> None:
    """Put the parameters of each new head where the old head's stood in ``optimizer``'s
    groups (group settings kept; the state of the old ones dropped)."""
    replacement = {}
    for old, new in swaps.items():
        old_params = list(old.parameters())
        for k, param in enumerate(old_params):
            replacement[param] = list(new.parameters()) if k == 0 else []
    for group in optimizer.param_groups:
        params: list[nn.Parameter] = []
        for param in group["params"]:
            params.extend(replacement.get(param, [param]))
        group["params"] = params
    for param in replacement:
        optimizer.state.pop(param, None)


def match_saved_heads(
    owner: nn.Module, heads: Iterable[nn.Module], state_dict: Mapping[str, Any]
) -> bool | None:
    """Rewrite ``owner``'s output ``heads`` into the form ``state_dict`` saved them in, before
    loading it: weight-normalized heads were the default before ``plain_heads=True`` was, and
    models saved then load as they were saved (same function, same parameters). The
    optimizers of ``owner`` and its submodules get the new head parameters in place of the old.
    Returns the saved form of the heads (True: weight-normalized; None: nothing to tell).
    """
    names = {id(module): name for name, module in owner.named_modules()}
    swaps: dict[nn.Module, nn.Module] = {}
    saved_forms = set()
    for head in heads:
        saved = _saved_head_form(names[id(head)], state_dict)
        if saved is None:
            continue
        saved_forms.add(saved)
        if saved != is_weight_normalized(head):
            new = WeightNormLinear.from_linear(head) if saved else head.to_linear()  # type: ignore[arg-type,operator]
            swaps[head] = new.train(head.training)
    if swaps:
        replace_children(owner, swaps.get)
        for module in owner.modules():
            optimizer = module.__dict__.get("optimizer")
            if isinstance(optimizer, torch.optim.Optimizer):
                _swap_optimizer_parameters(optimizer, swaps)
    return saved_forms.pop() if len(saved_forms) == 1 else None


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


class NormalizedNetwork(TracksOptimizerWrites, FastImageInput):
    """What every network a wnrl policy builds adds to its SB3 class (``QNetwork``, ``Actor``,
    ``ContinuousCritic``...): the ``norm`` rewrite at construction, recorded in the constructor
    parameters, one-pass image input and channels-last NatureCNN convolutions."""

    norm: str
    channels_last: bool
    plain_heads: bool
    gain_lr_scale: float

    def __init__(
        self,
        *args: Any,
        norm: str = "none",
        channels_last: bool = False,
        plain_heads: bool = True,
        gain_lr_scale: float = 1.0,
        **kwargs: Any,
    ):
        check_settings(norm, channels_last, plain_heads, gain_lr_scale)
        super().__init__(*args, **kwargs)
        self.norm = norm
        self.channels_last = channels_last
        self.plain_heads = plain_heads
        self.gain_lr_scale = float(gain_lr_scale)
        apply_norm(self, norm, heads=list(self.output_heads()), plain_heads=plain_heads)  # type: ignore[arg-type]
        extractor = getattr(self, "features_extractor", None)
        self.image_channels_last = channels_last and channels_last_around_nature_cnn([extractor])

    @abstractmethod
    def output_heads(self) -> dict[nn.Module, str]:
        """This network's output layers and their roles (policy, value or q)."""

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(norm=self.norm, channels_last=self.channels_last, plain_heads=self.plain_heads)
        if self.gain_lr_scale != 1.0:  # files written before the setting existed stay the same
            data["gain_lr_scale"] = self.gain_lr_scale
        return data

    def load_state_dict(self, state_dict: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """``nn.Module.load_state_dict``, the heads first rewritten to the saved form
        (:func:`match_saved_heads`)."""
        saved_wn = match_saved_heads(self, self.output_heads(), state_dict)  # type: ignore[arg-type]
        if saved_wn is not None:
            self.plain_heads = not saved_wn
        return super().load_state_dict(state_dict, *args, **kwargs)  # type: ignore[misc]


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
