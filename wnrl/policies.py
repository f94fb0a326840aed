"""Weight-normalized Stable-Baselines3 policies (Salimans & Kingma 2016, sec. 5.4).

One class per algorithm family, each a subclass of SB3's own policy, so SB3's algorithms train
them unmodified:

====================  ==============================  =========================================
class                 algorithms                      output heads (role: default init scale)
====================  ==============================  =========================================
WNDQNPolicy           DQN                             Q values (q: 1.0)
WNQRDQNPolicy         QR-DQN (sb3-contrib)            quantiles (q: 1.0)
WNActorCriticPolicy   PPO, A2C                        action logits/means (policy: 0.01),
                                                      value (value: 1.0)
WNSACPolicy           SAC                             mean, log std (policy: 0.01), Q (q: 1.0)
WNTD3Policy           TD3                             action (policy: 0.01), Q (q: 1.0)
====================  ==============================  =========================================

``policy_kwargs=dict(norm=...)`` picks the normalizer (:data:`wnrl.norms.NORMS`): ``"wn"``
(default), ``"wn+mobn"``, ``"none"``, ``"ln"``, ``"bn"``. The networks are built by SB3 exactly as
its own policies build them (same ``net_arch``, ``activation_fn``, features extractor, optimizer,
``ortho_init``...), then every Linear/Conv2d is rewritten by :func:`wnrl.norms.apply_norm`, which
preserves the function; so ``"none"`` is SB3's own network and every norm differs from it in the
normalization alone. The features extractor follows the observation space when not given:
NatureCNN for images, CombinedExtractor for dicts, flattening (then the MLP) otherwise.

SB3's orthogonal init (``ortho_init=True``, PPO/A2C) runs on the plain layers before the
rewrite, so a weight-normalized layer starts with exactly SB3's weight: ``v`` = the orthogonal
matrix, ``g`` = its row norms (the gain). :meth:`data_dependent_init` (paper sec. 3) then
replaces ``g`` and ``b`` from data; the default head scales follow SB3's gains: 0.01 for
policy outputs (small logits, near-uniform first policy), 1.0 for value and Q heads (the
paper's unit scale, SB3's value-head gain 1).
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces
from sb3_contrib.qrdqn.policies import QRDQNPolicy, QuantileNetwork
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy, ContinuousCritic
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from stable_baselines3.sac.policies import Actor as SACActor
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import Actor as TD3Actor
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from wnrl.fastpath import fast_optimizer_kwargs, use_channels_last
from wnrl.layers import LayerInitStats, WeightNormLinear, data_dependent_init
from wnrl.norms import NORMS, apply_norm, check_norm, rebind_optimizer
from wnrl.preprocessing import FastImageInput, fast_image_input

__all__ = [
    "WNDQNPolicy",
    "WNQRDQNPolicy",
    "WNActorCriticPolicy",
    "WNSACPolicy",
    "WNTD3Policy",
    "WN_POLICIES",
    "DEFAULT_HEAD_SCALES",
    "default_features_extractor",
    "NORMS",
]

#: Default data-dependent init scale per output-head role (hidden layers: 1.0, the paper's).
DEFAULT_HEAD_SCALES: dict[str, float] = {"policy": 0.01, "value": 1.0, "q": 1.0}

_LINEAR_TYPES = (nn.Linear, WeightNormLinear)


def default_features_extractor(observation_space: spaces.Space) -> type[BaseFeaturesExtractor]:
    """NatureCNN for image observations, CombinedExtractor for dicts, else FlattenExtractor."""
    if isinstance(observation_space, spaces.Dict):
        return CombinedExtractor
    if is_image_space(observation_space, check_channels=False):
        return NatureCNN
    return FlattenExtractor


def _is_nature_cnn(module: Any) -> bool:
    return type(module) is NatureCNN


def _last_linear(module: nn.Module) -> nn.Module:
    """The last Linear-like layer of a network, in registration (= forward) order."""
    found = [m for m in module.modules() if isinstance(m, _LINEAR_TYPES)]
    if not found:
        raise ValueError(f"no linear output layer in {type(module).__name__}")
    return found[-1]


@dataclass
class DDIPass:
    """One network to initialize: how to run a batch through it, and its target copies."""

    name: str
    network: nn.Module
    forward: Callable[[nn.Module, Any], Any]
    uses_actions: bool
    targets: tuple[nn.Module, ...] = ()


class _NormalizedPolicy:
    """What every wnrl policy adds to its SB3 base class: the ``norm`` rewrite and DDI."""

    norm: str
    channels_last: bool

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        norm: str = "wn",
        channels_last: bool = True,
        **kwargs: Any,
    ) -> None:
        """SB3's policy built as usual (every SB3 argument works), then rewritten for ``norm``.

        ``channels_last`` feeds the convolutions of SB3's NatureCNN NHWC inputs on the CPU (same
        function, faster kernels: :func:`wnrl.fastpath.use_channels_last`; custom extractors
        keep NCHW); image observations are normalized in one pass
        (:mod:`wnrl.preprocessing`, equal to SB3's ``preprocess_obs``). Unless
        ``optimizer_kwargs`` choose an implementation, the optimizer runs its fused (else
        foreach) kernels (:func:`wnrl.fastpath.fast_optimizer_kwargs`).
        """
        check_norm(norm)
        if not isinstance(channels_last, bool):
            raise ValueError(f"channels_last must be true or false, got {channels_last!r}")
        kwargs.setdefault("features_extractor_class", default_features_extractor(observation_space))
        chosen_optimizer_kwargs = kwargs.get("optimizer_kwargs")
        kwargs["optimizer_kwargs"] = fast_optimizer_kwargs(
            kwargs.get("optimizer_class", torch.optim.Adam), chosen_optimizer_kwargs
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]
        # saved models record the caller's choice: the default is re-derived where they load
        self._chosen_optimizer_kwargs = dict(chosen_optimizer_kwargs or {})
        self._apply_norm(norm)
        self.channels_last = channels_last
        self._use_channels_last()

    def _make_network(
        self, cls: type[nn.Module], kwargs: dict[str, Any], features_extractor: Any = None
    ) -> nn.Module:
        """SB3's ``make_*`` body (own features extractor unless one is given) with a wnrl
        network class."""
        update = self._update_features_extractor  # type: ignore[attr-defined]
        return cls(**update(kwargs, features_extractor)).to(self.device)  # type: ignore[attr-defined]

    def _use_channels_last(self) -> None:
        """Channels-last layout only around SB3's own ``NatureCNN`` (which flattens with
        ``nn.Flatten``): a custom extractor may ``.view`` its input or its conv outputs, which
        needs NCHW."""
        for module in self.modules():  # type: ignore[attr-defined]
            if self.channels_last and type(module) is NatureCNN:
                use_channels_last(module)
            if isinstance(module, FastImageInput):
                module.image_channels_last = self.channels_last and _is_nature_cnn(
                    module.features_extractor
                )
        extractors = [
            getattr(self, name, None)
            for name in ("features_extractor", "pi_features_extractor", "vf_features_extractor")
        ]
        present = [e for e in extractors if e is not None]
        self.image_channels_last = (
            self.channels_last and bool(present) and all(map(_is_nature_cnn, present))
        )

    def _apply_norm(self, norm: str) -> None:
        """Rewrite every network's layers for ``norm`` and rebuild the optimizers on them."""
        self.norm = norm
        renames = apply_norm(self, norm, heads=list(self.output_heads()))  # type: ignore[arg-type]
        if not renames:
            return
        for owner in self._optimizer_owners():
            owner.optimizer = rebind_optimizer(owner.optimizer, renames)

    def _optimizer_owners(self) -> Iterable[nn.Module]:
        return (self,)  # type: ignore[return-value]

    @abstractmethod
    def output_heads(self) -> dict[nn.Module, str]:
        """Every output layer (online and target networks) and its role: policy, value or q."""

    @abstractmethod
    def ddi_passes(self) -> list[DDIPass]:
        """The networks that :meth:`data_dependent_init` initializes, in order."""

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["norm"] = self.norm
        data["channels_last"] = self.channels_last
        data["optimizer_kwargs"] = dict(self._chosen_optimizer_kwargs)
        return data

    @torch.no_grad()
    def data_dependent_init(
        self,
        observations: torch.Tensor | dict[str, torch.Tensor],
        actions: torch.Tensor | None = None,
        init_scale: float = 1.0,
        head_scales: dict[str, float] | None = None,
    ) -> dict[str, LayerInitStats]:
        """Paper sec. 3 on every trainable network of this policy, then sync the targets.

        ``observations`` are raw (as stored in a buffer; preprocessing is the policy's own);
        ``actions`` feed the critics of SAC/TD3 (their input is observation plus action).
        Hidden layers get ``init_scale``; output heads the scale of their role
        (:data:`DEFAULT_HEAD_SCALES`, overridden by ``head_scales``). Layers run in training
        mode (batch statistics for BN / mean-only BN); modes are restored after. Returns the
        measured statistics, keyed ``"<network>/<layer>"``.
        """
        scales = {**DEFAULT_HEAD_SCALES, **(head_scales or {})}
        unknown = set(scales) - set(DEFAULT_HEAD_SCALES)
        if unknown:
            raise ValueError(f"unknown head role(s) {sorted(unknown)}; use policy, value, q")
        roles = self.output_heads()
        modes = {module: module.training for module in self.modules()}  # type: ignore[attr-defined]
        stats: dict[str, LayerInitStats] = {}
        try:
            for spec in self.ddi_passes():
                if spec.uses_actions and actions is None:
                    raise ValueError(f"the {spec.name} network needs actions for its init")
                batch = (observations, actions) if spec.uses_actions else observations
                spec.network.train(True)
                measured = data_dependent_init(
                    spec.network,
                    batch,
                    init_scale=lambda _, layer: (
                        scales[roles[layer]] if layer in roles else init_scale
                    ),
                    forward=spec.forward,
                )
                stats.update({f"{spec.name}/{key}": value for key, value in measured.items()})
                for target in spec.targets:
                    target.load_state_dict(spec.network.state_dict())
        finally:
            for module, mode in modes.items():
                module.training = mode
        return stats


def _call(network: nn.Module, batch: Any) -> Any:
    return network(batch)


def _call_with_actions(network: nn.Module, batch: Any) -> Any:
    return network(*batch)


class WNQNetwork(FastImageInput, QNetwork):
    """SB3's ``QNetwork`` with one-pass image preprocessing (:mod:`wnrl.preprocessing`)."""


class WNQuantileNetwork(FastImageInput, QuantileNetwork):
    """sb3-contrib's ``QuantileNetwork`` with one-pass image preprocessing."""


class WNSACActor(FastImageInput, SACActor):
    """SB3's SAC ``Actor`` with one-pass image preprocessing."""


class WNTD3Actor(FastImageInput, TD3Actor):
    """SB3's TD3 ``Actor`` with one-pass image preprocessing."""


class WNContinuousCritic(FastImageInput, ContinuousCritic):
    """SB3's ``ContinuousCritic`` (SAC, TD3) with one-pass image preprocessing."""


class WNDQNPolicy(_NormalizedPolicy, DQNPolicy):
    """DQN's Q-network (and its target) with weight normalization (paper sec. 5.4).

    ``policy_kwargs``: ``norm`` (see module doc) plus every ``DQNPolicy`` argument.
    """

    _wnrl_family = "dqn"

    def make_q_net(self) -> QNetwork:
        return self._make_network(WNQNetwork, self.net_args)  # type: ignore[return-value]

    def output_heads(self) -> dict[nn.Module, str]:
        return {_last_linear(net.q_net): "q" for net in (self.q_net, self.q_net_target)}

    def ddi_passes(self) -> list[DDIPass]:
        return [DDIPass("q_net", self.q_net, _call, False, (self.q_net_target,))]


class WNQRDQNPolicy(_NormalizedPolicy, QRDQNPolicy):
    """QR-DQN's quantile network (sb3-contrib) with weight normalization."""

    _wnrl_family = "qrdqn"

    def make_quantile_net(self) -> QuantileNetwork:
        return self._make_network(WNQuantileNetwork, self.net_args)  # type: ignore[return-value]

    def output_heads(self) -> dict[nn.Module, str]:
        nets = (self.quantile_net, self.quantile_net_target)
        return {_last_linear(net.quantile_net): "q" for net in nets}

    def ddi_passes(self) -> list[DDIPass]:
        return [
            DDIPass("quantile_net", self.quantile_net, _call, False, (self.quantile_net_target,))
        ]


class WNActorCriticPolicy(_NormalizedPolicy, ActorCriticPolicy):
    """PPO / A2C actor-critic with weight normalization: extractor, MLPs, action and value heads.

    ``ortho_init`` (default True, as in SB3) initializes the plain layers first; the rewrite
    keeps those weights exactly (see the module doc).
    """

    _wnrl_family = "actor_critic"

    def extract_features(  # type: ignore[override]
        self, obs: Any, features_extractor: BaseFeaturesExtractor | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``ActorCriticPolicy.extract_features`` with one-pass image preprocessing, done once
        for both extractors when they are separate."""
        image = fast_image_input(self, obs)
        if image is None:
            return super().extract_features(obs, features_extractor)
        if self.share_features_extractor:
            if features_extractor is None:
                features_extractor = self.features_extractor
            return features_extractor(image)
        if features_extractor is not None:
            warnings.warn(
                "Provided features_extractor will be ignored because the features extractor is "
                "not shared.",
                UserWarning,
                stacklevel=2,
            )
        # each extractor gets its own input, as with SB3's two preprocess_obs calls
        return self.pi_features_extractor(image), self.vf_features_extractor(
            fast_image_input(self, obs)
        )

    def output_heads(self) -> dict[nn.Module, str]:
        return {self.action_net: "policy", self.value_net: "value"}

    def ddi_passes(self) -> list[DDIPass]:
        def forward(policy: nn.Module, obs: Any) -> Any:
            return policy.forward(obs)  # features, both MLP branches, action and value heads

        return [DDIPass("policy", self, forward, False)]


class _OffPolicyActorCritic(_NormalizedPolicy):
    """SAC and TD3: an actor and twin critics, each with its own optimizer."""

    _actor_class: type[nn.Module]

    actor_kwargs: dict[str, Any]
    critic_kwargs: dict[str, Any]

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> nn.Module:
        return self._make_network(self._actor_class, self.actor_kwargs, features_extractor)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> nn.Module:
        return self._make_network(WNContinuousCritic, self.critic_kwargs, features_extractor)

    def _optimizer_owners(self) -> Iterable[nn.Module]:
        return (self.actor, self.critic)  # type: ignore[attr-defined]


class WNSACPolicy(_OffPolicyActorCritic, SACPolicy):
    """SAC actor and twin critics (and critic target) with weight normalization."""

    _wnrl_family = "sac"

    _actor_class = WNSACActor

    def output_heads(self) -> dict[nn.Module, str]:
        heads = {_last_linear(self.actor.mu): "policy"}
        if isinstance(self.actor.log_std, nn.Module):
            heads[self.actor.log_std] = "policy"
        for critic in (self.critic, self.critic_target):
            heads.update({_last_linear(q): "q" for q in critic.q_networks})
        return heads

    def ddi_passes(self) -> list[DDIPass]:
        return [
            DDIPass("actor", self.actor, _call, False),
            DDIPass("critic", self.critic, _call_with_actions, True, (self.critic_target,)),
        ]


class WNTD3Policy(_OffPolicyActorCritic, TD3Policy):
    """TD3 actor and twin critics (and both targets) with weight normalization."""

    _wnrl_family = "td3"

    _actor_class = WNTD3Actor

    def output_heads(self) -> dict[nn.Module, str]:
        heads = {_last_linear(actor.mu): "policy" for actor in (self.actor, self.actor_target)}
        for critic in (self.critic, self.critic_target):
            heads.update({_last_linear(q): "q" for q in critic.q_networks})
        return heads

    def ddi_passes(self) -> list[DDIPass]:
        return [
            DDIPass("actor", self.actor, _call, False, (self.actor_target,)),
            DDIPass("critic", self.critic, _call_with_actions, True, (self.critic_target,)),
        ]


#: algorithm name -> the wnrl policy class it takes
WN_POLICIES: dict[str, type[BasePolicy]] = {
    "dqn": WNDQNPolicy,
    "qrdqn": WNQRDQNPolicy,
    "ppo": WNActorCriticPolicy,
    "a2c": WNActorCriticPolicy,
    "sac": WNSACPolicy,
    "td3": WNTD3Policy,
}
