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

``policy_kwargs=dict(norm=...)`` picks the normalizer (:data:`wnrl.nn.norms.NORMS`): ``"wn"``
(default), ``"wn+mobn"`` (DQN and QR-DQN only: :data:`wnrl.names.REFUSED_NORMS`), ``"none"``,
``"ln"``, ``"bn"``. The networks are built by SB3 exactly as
its own policies build them (same ``net_arch``, ``activation_fn``, features extractor, optimizer,
``ortho_init``...), then every Linear/Conv2d is rewritten by :func:`wnrl.nn.norms.apply_norm`, which
preserves the function; so ``"none"`` is SB3's own network and every norm differs from it in the
normalization alone. The features extractor follows the observation space when not given:
NatureCNN for images (as SB3's ``NatureCNN`` accepts them: uint8 frames, or any 3-D Box with
``normalize_images=False``), CombinedExtractor for dicts, flattening (then the MLP) otherwise.
Each family also has SB3's three variants, which fix the extractor as SB3's do: e.g.
``WNDQNMlpPolicy``, ``WNDQNCnnPolicy``, ``WNDQNMultiInputPolicy``, registered by
:func:`register_policy_names` under the string names ``"WNMlpPolicy"``, ``"WNCnnPolicy"`` and
``"WNMultiInputPolicy"`` of each algorithm (``DQN("WNCnnPolicy", env)`` after ``import wnrl``).

Every network a policy builds through SB3's ``make_*`` hooks (``QNetwork``, ``QuantileNetwork``,
SAC/TD3 ``Actor``, ``ContinuousCritic``) is a wnrl class that normalizes itself at construction
and records ``norm`` in its constructor parameters, so SB3's ``BaseModel.save`` / ``load`` of any
single network (``model.q_net.save(path)``) rebuilds it as it was. The optimizers are built by
SB3 on the final layers (for PPO/A2C, SB3's optimizer call is repeated after the rewrite), so
every optimizer class works. The acting networks (not the targets) reuse their normalized
weights between optimizer steps (:func:`wnrl.layers.enable_inference_cache`).

SB3's orthogonal init (``ortho_init=True``, PPO/A2C) runs on the plain layers before the
rewrite, so a weight-normalized layer starts with exactly SB3's weight: ``v`` = the orthogonal
matrix, ``g`` = its row norms (the gain). :meth:`data_dependent_init` (paper sec. 3) then
replaces ``g`` and ``b`` from data; the default head scales follow SB3's gains: 0.01 for
policy outputs (small logits, near-uniform first policy), 1.0 for value and Q heads (the
paper's unit scale, SB3's value-head gain 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from sb3_contrib.qrdqn.policies import QRDQNPolicy, QuantileNetwork
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
)
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from wnrl.nn.norms import apply_norm
from wnrl.sb3.networks import (
    WNContinuousCritic,
    WNQNetwork,
    WNQuantileNetwork,
    WNSACActor,
    WNTD3Actor,
    channels_last_around_nature_cnn,
)
from wnrl.sb3.policy_base import DDIPass, NormalizedPolicy, _call, _call_with_actions, _heads_of
from wnrl.sb3.preprocessing import fast_image_input


class WNDQNPolicy(NormalizedPolicy, DQNPolicy):
    """DQN's Q-network (and its target) with weight normalization (paper sec. 5.4).

    ``policy_kwargs``: ``norm`` (see module doc) plus every ``DQNPolicy`` argument.
    """

    _wnrl_family = "dqn"

    def make_q_net(self) -> QNetwork:
        return self._make_network(WNQNetwork, self.net_args)  # type: ignore[return-value]

    def acting_networks(self) -> list[nn.Module]:
        return [self.q_net]

    def output_heads(self) -> dict[nn.Module, str]:
        return _heads_of(self.q_net, self.q_net_target)

    def ddi_passes(self) -> list[DDIPass]:
        return [DDIPass("q_net", self.q_net, _call, False, (self.q_net_target,))]


class WNQRDQNPolicy(NormalizedPolicy, QRDQNPolicy):
    """QR-DQN's quantile network (sb3-contrib) with weight normalization."""

    _wnrl_family = "qrdqn"

    def make_quantile_net(self) -> QuantileNetwork:
        return self._make_network(WNQuantileNetwork, self.net_args)  # type: ignore[return-value]

    def acting_networks(self) -> list[nn.Module]:
        return [self.quantile_net]

    def output_heads(self) -> dict[nn.Module, str]:
        return _heads_of(self.quantile_net, self.quantile_net_target)

    def ddi_passes(self) -> list[DDIPass]:
        return [
            DDIPass("quantile_net", self.quantile_net, _call, False, (self.quantile_net_target,))
        ]


class WNActorCriticPolicy(NormalizedPolicy, ActorCriticPolicy):
    """PPO / A2C actor-critic with weight normalization: extractor, MLPs, action and value heads.

    ``ortho_init`` (default True, as in SB3) initializes the plain layers first; the rewrite
    keeps those weights exactly (see the module doc).
    """

    _wnrl_family = "actor_critic"

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """SB3's ``_build`` (networks, orthogonal init, optimizer), then the ``norm`` rewrite;
        the optimizer is then built again exactly as SB3 builds it, on the new parameters."""
        super()._build(lr_schedule)  # type: ignore[misc]
        heads = list(self.output_heads())
        if apply_norm(self, self.norm, heads=heads, plain_heads=self.plain_heads):
            self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
                self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
            )
        extractors = [
            getattr(self, name, None)
            for name in ("features_extractor", "pi_features_extractor", "vf_features_extractor")
        ]
        self.image_channels_last = self.channels_last and channels_last_around_nature_cnn(
            extractors
        )

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

    def acting_networks(self) -> list[nn.Module]:
        return [self]

    def output_heads(self) -> dict[nn.Module, str]:
        return {self.action_net: "policy", self.value_net: "value"}

    def ddi_passes(self) -> list[DDIPass]:
        def forward(policy: nn.Module, obs: Any) -> Any:
            return policy.forward(obs)  # features, both MLP branches, action and value heads

        return [DDIPass("policy", self, forward, False)]


class _OffPolicyActorCritic(NormalizedPolicy):
    """SAC and TD3: an actor and twin critics, each with its own optimizer."""

    _actor_class: type[nn.Module]

    actor_kwargs: dict[str, Any]
    critic_kwargs: dict[str, Any]

    def make_actor(self, features_extractor: BaseFeaturesExtractor | None = None) -> nn.Module:
        return self._make_network(self._actor_class, self.actor_kwargs, features_extractor)

    def make_critic(self, features_extractor: BaseFeaturesExtractor | None = None) -> nn.Module:
        return self._make_network(WNContinuousCritic, self.critic_kwargs, features_extractor)

    def acting_networks(self) -> list[nn.Module]:
        return [self.actor]  # type: ignore[attr-defined]


class WNSACPolicy(_OffPolicyActorCritic, SACPolicy):
    """SAC actor and twin critics (and critic target) with weight normalization."""

    _wnrl_family = "sac"

    _actor_class = WNSACActor

    def output_heads(self) -> dict[nn.Module, str]:
        return _heads_of(self.actor, self.critic, self.critic_target)

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
        return _heads_of(self.actor, self.actor_target, self.critic, self.critic_target)

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
