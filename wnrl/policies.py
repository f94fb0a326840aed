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
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from gymnasium import spaces
from sb3_contrib import QRDQN
from sb3_contrib.qrdqn.policies import QRDQNPolicy, QuantileNetwork
from stable_baselines3 import A2C, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy
from torch import nn

from wnrl.fastpath import fast_optimizer_kwargs
from wnrl.layers import (
    LayerInitStats,
    data_dependent_init,
    enable_inference_cache,
)
from wnrl.networks import (
    TracksOptimizerWrites,
    WNContinuousCritic,
    WNQNetwork,
    WNQuantileNetwork,
    WNSACActor,
    WNTD3Actor,
    _NormalizedNetwork,
    channels_last_around_nature_cnn,
    check_settings,
    match_saved_heads,
)
from wnrl.norms import NORMS, apply_norm
from wnrl.preprocessing import fast_image_input

__all__ = [
    "WNDQNPolicy",
    "WNQRDQNPolicy",
    "WNActorCriticPolicy",
    "WNSACPolicy",
    "WNTD3Policy",
    "WN_POLICIES",
    "POLICY_NAMES",
    "POLICY_VARIANTS",
    "register_policy_names",
    "DEFAULT_HEAD_SCALES",
    "default_features_extractor",
    "NORMS",
]

#: Default data-dependent init scale per output-head role (hidden layers: 1.0, the paper's).
DEFAULT_HEAD_SCALES: dict[str, float] = {"policy": 0.01, "value": 1.0, "q": 1.0}


def default_features_extractor(
    observation_space: spaces.Space, normalize_images: bool = True
) -> type[BaseFeaturesExtractor]:
    """CombinedExtractor for dicts; NatureCNN for the 3-D Box spaces SB3's NatureCNN accepts
    (uint8 images in [0, 255], or any 3-D Box when ``normalize_images=False``, i.e. frames
    already scaled, as after ``VecNormalize``); else FlattenExtractor."""
    if isinstance(observation_space, spaces.Dict):
        return CombinedExtractor
    if is_image_space(
        observation_space, check_channels=False, normalized_image=not normalize_images
    ):
        return NatureCNN
    return FlattenExtractor


@dataclass
class DDIPass:
    """One network to initialize: how to run a batch through it, and its target copies."""

    name: str
    network: nn.Module
    forward: Callable[[nn.Module, Any], Any]
    uses_actions: bool
    targets: tuple[nn.Module, ...] = ()


class _NormalizedPolicy(TracksOptimizerWrites):
    """What every wnrl policy adds to its SB3 base class: ``norm``, SB3's extractor variants,
    the acting networks' inference cache, fast optimizer kernels and DDI."""

    norm: str
    channels_last: bool
    #: The features extractor of this variant (SB3's MlpPolicy / CnnPolicy / MultiInputPolicy);
    #: None: chosen from the observation space (:func:`default_features_extractor`).
    default_extractor: ClassVar[type[BaseFeaturesExtractor] | None] = None

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        norm: str = "wn",
        channels_last: bool = True,
        plain_heads: bool = True,
        **kwargs: Any,
    ) -> None:
        """SB3's policy built as usual (every SB3 argument works), with ``norm`` layers.

        ``plain_heads`` (default) leaves the output layers (Q, action, value heads) plain under
        weight norm: a weight-normalized head with a small ``g`` (0.01, SB3's policy gain) moves
        by about ``g/||v||`` times a plain head's step (paper sec. 2.1), and learned worse
        (README, Results). ``plain_heads=False`` is the paper's network, every layer
        weight-normalized.

        ``channels_last`` feeds the convolutions of SB3's NatureCNN NHWC inputs on the CPU (same
        function, faster kernels: :func:`wnrl.fastpath.use_channels_last`; custom extractors
        keep NCHW); image observations are normalized in one pass
        (:mod:`wnrl.preprocessing`, equal to SB3's ``preprocess_obs``). Unless
        ``optimizer_kwargs`` choose an implementation, the optimizer runs its fused (else
        foreach) kernels (:func:`wnrl.fastpath.fast_optimizer_kwargs`).
        """
        check_settings(norm, channels_last, plain_heads)
        # set before SB3's constructor: its _build calls the make_* hooks, which read them
        self.norm = norm
        self.channels_last = channels_last
        self.plain_heads = plain_heads
        if "features_extractor_class" not in kwargs:
            kwargs["features_extractor_class"] = self.default_extractor or (
                default_features_extractor(observation_space, kwargs.get("normalize_images", True))
            )
        chosen_optimizer_kwargs = kwargs.get("optimizer_kwargs")
        kwargs["optimizer_kwargs"] = fast_optimizer_kwargs(
            kwargs.get("optimizer_class", torch.optim.Adam), chosen_optimizer_kwargs
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]
        # saved models record the caller's choice: the default is re-derived where they load
        self._chosen_optimizer_kwargs = dict(chosen_optimizer_kwargs or {})
        for network in self.acting_networks():
            enable_inference_cache(network)

    def _network_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            **kwargs,
            "norm": self.norm,
            "channels_last": self.channels_last,
            "plain_heads": self.plain_heads,
        }

    def _make_network(
        self, cls: type[nn.Module], kwargs: dict[str, Any], features_extractor: Any = None
    ) -> nn.Module:
        """SB3's ``make_*`` body (own features extractor unless one is given) with a wnrl
        network class, which normalizes itself."""
        update = self._update_features_extractor  # type: ignore[attr-defined]
        network = cls(**update(self._network_kwargs(kwargs), features_extractor))
        return network.to(self.device)  # type: ignore[attr-defined]

    @abstractmethod
    def acting_networks(self) -> list[nn.Module]:
        """The networks that choose actions (their weights are cached between updates)."""

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
        data["plain_heads"] = self.plain_heads
        data["optimizer_kwargs"] = dict(self._chosen_optimizer_kwargs)
        return data

    def load_state_dict(self, state_dict: Any, *args: Any, **kwargs: Any) -> Any:
        """``nn.Module.load_state_dict``; a state dict whose output heads are in the other form
        (weight-normalized where this policy's are plain, as saved before ``plain_heads=True``
        was the default) first turns the heads into that form (:func:`match_saved_heads`)."""
        saved_wn = match_saved_heads(self, self.output_heads(), state_dict)  # type: ignore[arg-type]
        if saved_wn is not None and saved_wn == self.plain_heads:
            for module in self.modules():  # type: ignore[attr-defined]
                if isinstance(module, (_NormalizedPolicy, _NormalizedNetwork)):
                    module.plain_heads = not saved_wn
            for network in self.acting_networks():
                enable_inference_cache(network)
        return super().load_state_dict(state_dict, *args, **kwargs)  # type: ignore[misc]

    @torch.no_grad()
    def data_dependent_init(
        self,
        observations: torch.Tensor | dict[str, torch.Tensor],
        actions: torch.Tensor | None = None,
        init_scale: float = 1.0,
        head_scales: dict[str, float] | None = None,
        rescale_plain_heads: bool = True,
    ) -> dict[str, LayerInitStats]:
        """Paper sec. 3 on every trainable network of this policy, then sync the targets.

        ``observations`` are raw (as stored in a buffer; preprocessing is the policy's own);
        ``actions`` feed the critics of SAC/TD3 (their input is observation plus action).
        Hidden layers get ``init_scale``; output heads the scale of their role
        (:data:`DEFAULT_HEAD_SCALES`, overridden by ``head_scales``); plain heads keep SB3's
        init when not ``rescale_plain_heads``. Layers run in training
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
                    include_plain=rescale_plain_heads,
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


def _heads_of(*networks: Any) -> dict[nn.Module, str]:
    heads: dict[nn.Module, str] = {}
    for network in networks:
        heads.update(network.output_heads())
    return heads


class WNDQNPolicy(_NormalizedPolicy, DQNPolicy):
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


class WNQRDQNPolicy(_NormalizedPolicy, QRDQNPolicy):
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


class WNActorCriticPolicy(_NormalizedPolicy, ActorCriticPolicy):
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


class _OffPolicyActorCritic(_NormalizedPolicy):
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

#: SB3's policy variants: string-name suffix -> the features extractor it fixes
_VARIANT_EXTRACTORS: dict[str, type[BaseFeaturesExtractor]] = {
    "Mlp": FlattenExtractor,
    "Cnn": NatureCNN,
    "MultiInput": CombinedExtractor,
}


def _variant(base: type[_NormalizedPolicy], variant: str) -> type[_NormalizedPolicy]:
    """``WN<Family><Variant>Policy``: ``base`` with SB3's extractor of that variant."""
    family = base.__name__[len("WN") : -len("Policy")]
    name = f"WN{family}{variant}Policy"
    doc = (
        f"{base.__name__} with SB3's {variant}Policy features extractor "
        f'({_VARIANT_EXTRACTORS[variant].__name__}); string name ``"WN{variant}Policy"``.'
    )
    namespace = {
        "default_extractor": _VARIANT_EXTRACTORS[variant],
        # in the class's own dict: SB3 saves it with the model, weights-only loading reads it
        "_wnrl_family": base._wnrl_family,  # type: ignore[attr-defined]
        "_wnrl_variant": variant,
        "__doc__": doc,
        "__module__": __name__,
    }
    cls = type(name, (base,), namespace)
    cls.__qualname__ = name
    return cls


#: family base class -> {variant: class}; each class is also a module attribute (pickled models
#: refer to it by name)
POLICY_VARIANTS: dict[type[_NormalizedPolicy], dict[str, type[_NormalizedPolicy]]] = {}
for _base in (WNDQNPolicy, WNQRDQNPolicy, WNActorCriticPolicy, WNSACPolicy, WNTD3Policy):
    POLICY_VARIANTS[_base] = {}
    for _suffix in _VARIANT_EXTRACTORS:
        _cls = _variant(_base, _suffix)
        POLICY_VARIANTS[_base][_suffix] = _cls
        globals()[_cls.__name__] = _cls
        __all__.append(_cls.__name__)

_ALGORITHM_FAMILIES: dict[type[BaseAlgorithm], type[_NormalizedPolicy]] = {
    DQN: WNDQNPolicy,
    QRDQN: WNQRDQNPolicy,
    PPO: WNActorCriticPolicy,
    A2C: WNActorCriticPolicy,
    SAC: WNSACPolicy,
    TD3: WNTD3Policy,
}

#: algorithm class -> {string name: policy class}, as :func:`register_policy_names` adds them
POLICY_NAMES: dict[type[BaseAlgorithm], dict[str, type[_NormalizedPolicy]]] = {
    algorithm: {f"WN{suffix}Policy": cls for suffix, cls in POLICY_VARIANTS[family].items()}
    for algorithm, family in _ALGORITHM_FAMILIES.items()
}


def register_policy_names() -> None:
    """Add ``"WNMlpPolicy"``, ``"WNCnnPolicy"`` and ``"WNMultiInputPolicy"`` to the
    ``policy_aliases`` table of DQN, QR-DQN, PPO, A2C, SAC and TD3 (SB3's public table of
    string policy names, read when a policy is given by name, as in RL Zoo's hyperparameter
    files). Only names: SB3's own entries and behaviour are untouched, and a name some other
    package already registered for another class is left to it. ``import wnrl`` calls this.
    """
    for algorithm, names in POLICY_NAMES.items():
        aliases = algorithm.policy_aliases
        for name, cls in names.items():
            current = aliases.get(name)
            if current is None or getattr(current, "__module__", None) == __name__:
                aliases[name] = cls
