"""A policy's settings (norm, channels_last, plain_heads, gain_lr_scale): one frozen value,
validated once where the policy is built, handed whole to every network, saved as plain
keyword arguments."""

from __future__ import annotations

import dataclasses

import pytest
from small_models import ALGOS, build

from wnrl.errors import ConfigError
from wnrl.sb3.networks import NormalizedNetwork
from wnrl.sb3.settings import NETWORK_DEFAULTS, SETTING_NAMES, PolicySettings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"norm": "weightnorm"}, "unknown norm 'weightnorm'; choose one of"),
        ({"channels_last": "yes"}, "channels_last must be true or false, got 'yes'"),
        ({"plain_heads": 1}, "plain_heads must be true or false, got 1"),
        ({"gain_lr_scale": -1}, "gain_lr_scale must be a finite number >= 0, got -1"),
    ],
)
def test_a_bad_setting_is_a_one_line_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        PolicySettings(**kwargs)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=message):
        build("dqn", **kwargs)


def test_settings_are_frozen_and_saved_as_plain_keyword_arguments() -> None:
    settings = PolicySettings(norm="ln", gain_lr_scale=2)
    assert settings.gain_lr_scale == 2.0 and isinstance(settings.gain_lr_scale, float)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.norm = "wn"  # type: ignore[misc]
    assert settings.as_kwargs() == {
        "norm": "ln", "channels_last": True, "plain_heads": True, "gain_lr_scale": 2.0
    }  # fmt: skip
    assert "gain_lr_scale" not in PolicySettings().as_kwargs()  # its default is not written
    assert set(PolicySettings().as_kwargs()) | {"gain_lr_scale"} == set(SETTING_NAMES)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_every_network_of_a_policy_holds_the_policy_s_settings(algo: str) -> None:
    policy = build(algo, norm="wn", gain_lr_scale=0.5).policy
    networks = [m for m in policy.modules() if isinstance(m, NormalizedNetwork)]
    if algo in ("ppo", "a2c"):  # SB3 builds their networks inside the policy itself
        assert not networks
    else:
        assert networks and all(net.settings is policy.settings for net in networks)
    assert (policy.norm, policy.gain_lr_scale) == ("wn", 0.5)
    saved = policy._get_constructor_parameters()
    assert {key: saved[key] for key in SETTING_NAMES} == policy.settings.as_kwargs()


def test_a_network_built_alone_is_sb3_s_unless_told_otherwise() -> None:
    q_net = build("dqn", norm="wn").policy.q_net
    rebuilt = type(q_net)(**{**q_net._get_constructor_parameters()})
    assert rebuilt.settings == q_net.settings  # from the saved keyword arguments
    alone = {k: v for k, v in q_net._get_constructor_parameters().items() if k not in SETTING_NAMES}
    assert type(q_net)(**alone).settings == NETWORK_DEFAULTS
    with pytest.raises(TypeError, match="either settings or norm"):
        type(q_net)(**alone, settings=q_net.settings, norm="wn")
