"""What every wnrl policy adds to its SB3 base class: the norm, the extractor choice, the init.

The networks are built by SB3 exactly as its own policies build them, then every Linear/Conv2d
is rewritten by :func:`wnrl.nn.norms.apply_norm`, which preserves the function.
:meth:`data_dependent_init` (paper sec. 3) replaces ``g`` and ``b`` from data, with a scale per
output-head role (:data:`DEFAULT_HEAD_SCALES`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.torch_layers import (
    BaseFeaturesExtractor,
    CombinedExtractor,
    FlattenExtractor,
    NatureCNN,
)
from torch import nn

from wnrl.nn.cache import enable_inference_cache
from wnrl.nn.fastpath import fast_optimizer_kwargs
from wnrl.nn.initialization import LayerInitStats, data_dependent_init
from wnrl.sb3.extractors import MinAtarCNN, is_binary_grid_space
from wnrl.sb3.networks import HasSettings, TracksOptimizerWrites
from wnrl.sb3.refusals import check_offered
from wnrl.sb3.settings import PolicySettings

#: Default data-dependent init scale per output-head role (hidden layers: 1.0, the paper's).
DEFAULT_HEAD_SCALES: dict[str, float] = {"policy": 0.01, "value": 1.0, "q": 1.0}


def default_features_extractor(
    observation_space: spaces.Space, normalize_images: bool = True
) -> type[BaseFeaturesExtractor]:
    """CombinedExtractor for dicts; MinAtarCNN for boolean (H, W, C) grids (MinAtar's);
    NatureCNN for the 3-D Box spaces SB3's NatureCNN accepts (uint8 images in [0, 255], or any
    3-D Box when ``normalize_images=False``, i.e. frames already scaled, as after
    ``VecNormalize``); else FlattenExtractor."""
    if isinstance(observation_space, spaces.Dict):
        return CombinedExtractor
    if is_binary_grid_space(observation_space):
        return MinAtarCNN
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


class NormalizedPolicy(HasSettings, TracksOptimizerWrites):
    """What every wnrl policy adds to its SB3 base class: its
    :class:`~wnrl.sb3.settings.PolicySettings` (``norm``...), SB3's extractor variants, the
    acting networks' inference cache, fast optimizer kernels and DDI."""

    #: The features extractor of this variant (SB3's MlpPolicy / CnnPolicy / MultiInputPolicy);
    #: None: chosen from the observation space (:func:`default_features_extractor`).
    default_extractor: ClassVar[type[BaseFeaturesExtractor] | None] = None
    #: The family's agents (:data:`wnrl.names.FAMILY_AGENTS`), set by each family class.
    _wnrl_family: ClassVar[str]
    #: Whether the constructor refuses the norms the family's agents refuse
    #: (:data:`wnrl.names.REFUSED_NORMS`: a one-line ConfigError naming the measurement).
    #: Research code that studies a refused combination (``scripts/mobn_probe.py``) subclasses
    #: with False.
    refuse_norms: ClassVar[bool] = True

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        norm: str = "wn",
        channels_last: bool = True,
        plain_heads: bool = True,
        gain_lr_scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        """SB3's policy built as usual (every SB3 argument works), with ``norm`` layers.

        ``plain_heads`` (default) leaves the output layers (Q, action, value heads) plain under
        weight norm: a weight-normalized head with a small ``g`` (0.01, SB3's policy gain) moves
        by about ``g/||v||`` times a plain head's step (paper sec. 2.1), and learned worse
        (README, Results). ``plain_heads=False`` is the paper's network, every layer
        weight-normalized.

        ``gain_lr_scale`` trains the gains ``g`` of the weight-normalized layers at that multiple
        of the learning rate (0 freezes them; 1, the default, is the paper's single rate):
        :func:`wnrl.nn.gain_learning_rate.scale_gain_learning_rate`, an ablation setting.

        ``channels_last`` feeds the convolutions of SB3's NatureCNN NHWC inputs on the CPU (same
        function, faster kernels: :func:`wnrl.nn.fastpath.use_channels_last`; custom extractors
        keep NCHW); image observations are normalized in one pass
        (:mod:`wnrl.sb3.preprocessing`, equal to SB3's ``preprocess_obs``). Unless
        ``optimizer_kwargs`` choose an implementation, the optimizer runs its fused (else
        foreach) kernels (:func:`wnrl.nn.fastpath.fast_optimizer_kwargs`).
        """
        # validated here, once; set before SB3's constructor: its _build calls the make_* hooks,
        # which hand the settings to every network
        self.settings = PolicySettings(norm, channels_last, plain_heads, gain_lr_scale)
        if self.refuse_norms:
            check_offered(self._wnrl_family, self.settings.norm)
        if "features_extractor_class" not in kwargs:
            kwargs["features_extractor_class"] = self._variant_extractor(observation_space) or (
                default_features_extractor(observation_space, kwargs.get("normalize_images", True))
            )
        if kwargs["features_extractor_class"] is MinAtarCNN and kwargs.get("net_arch") is None:
            kwargs["net_arch"] = []  # heads on its features, as SB3 does for NatureCNN
        chosen_optimizer_kwargs = kwargs.get("optimizer_kwargs")
        kwargs["optimizer_kwargs"] = fast_optimizer_kwargs(
            kwargs.get("optimizer_class", torch.optim.Adam), chosen_optimizer_kwargs
        )
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)  # type: ignore[call-arg]
        # saved models record the caller's choice: the default is re-derived where they load
        self._chosen_optimizer_kwargs = dict(chosen_optimizer_kwargs or {})
        for network in self.acting_networks():
            enable_inference_cache(network)

    @classmethod
    def _variant_extractor(
        cls, observation_space: spaces.Space
    ) -> type[BaseFeaturesExtractor] | None:
        """The variant's extractor; the CNN variant takes a binary grid with MinAtarCNN (SB3's
        NatureCNN cannot: a 10x10 input is too small for its kernels)."""
        if cls.default_extractor is NatureCNN and is_binary_grid_space(observation_space):
            return MinAtarCNN
        return cls.default_extractor

    def _network_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "settings": self.settings}

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
        data.update(self.settings.as_kwargs())
        data["optimizer_kwargs"] = dict(self._chosen_optimizer_kwargs)
        return data

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
