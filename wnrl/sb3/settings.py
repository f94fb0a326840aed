"""The settings a wnrl policy adds to SB3's ``policy_kwargs``: one frozen value, validated once.

A policy builds its :class:`PolicySettings` from its keyword arguments (``norm``,
``channels_last``, ``plain_heads``, ``gain_lr_scale``) and hands it whole to every network it
builds; saved files record the plain keyword arguments (:meth:`PolicySettings.as_kwargs`), so a
model file holds no wnrl object.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from wnrl.errors import ConfigError
from wnrl.nn.gain_learning_rate import check_gain_lr_scale
from wnrl.nn.norms import check_norm


@dataclass(frozen=True)
class PolicySettings:
    """What a wnrl network is, beyond SB3's arguments.

    ``norm``: the normalizer (:data:`wnrl.nn.norms.NORMS`); ``channels_last``: NHWC inputs for
    SB3's NatureCNN convolutions on the CPU; ``plain_heads``: output layers left plain under
    weight norm (``False``: the paper's network, every layer normalized); ``gain_lr_scale``:
    the gains ``g`` train at this multiple of the learning rate (1: the paper's single rate).
    A bad value is a one-line :class:`~wnrl.errors.ConfigError`.
    """

    norm: str = "wn"
    channels_last: bool = True
    plain_heads: bool = True
    gain_lr_scale: float = 1.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "norm", check_norm(self.norm))
            check_gain_lr_scale(self.gain_lr_scale)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        for name in ("channels_last", "plain_heads"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false, got {value!r}")
        object.__setattr__(self, "gain_lr_scale", float(self.gain_lr_scale))

    def as_kwargs(self) -> dict[str, Any]:
        """The settings as the keyword arguments a saved policy or network is rebuilt with
        (``gain_lr_scale`` only when it is not 1: its default)."""
        kwargs: dict[str, Any] = {
            "norm": self.norm,
            "channels_last": self.channels_last,
            "plain_heads": self.plain_heads,
        }
        if self.gain_lr_scale != 1.0:
            kwargs["gain_lr_scale"] = self.gain_lr_scale
        return kwargs


#: A network built outside a policy: SB3's own network, unnormalized, NCHW inputs.
NETWORK_DEFAULTS = PolicySettings(norm="none", channels_last=False)

#: The keyword arguments the settings are saved and rebuilt as.
SETTING_NAMES: tuple[str, ...] = tuple(field.name for field in fields(PolicySettings))
