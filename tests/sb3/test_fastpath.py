"""The speed paths keep the function: channels-last convolution inputs and fused optimizers
(wnrl.nn.fastpath), one-pass uint8 image preprocessing in every policy (wnrl.sb3.preprocessing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from wnrl.layers import WeightNormConv2d, weight_norm
from wnrl.nn.fastpath import fast_optimizer_kwargs, use_channels_last
from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy, WNQRDQNPolicy, WNSACPolicy, WNTD3Policy
from wnrl.sb3.preprocessing import FastImageInput, fast_image_input, normalized_image

IMAGE = spaces.Box(0, 255, (4, 84, 84), np.uint8)


def convolution_inputs(module: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The tensors each convolution of ``module`` received when running ``x``."""
    seen: list[torch.Tensor] = []
    handles = [
        layer.register_forward_hook(lambda _m, args, _out: seen.append(args[0]))
        for layer in module.modules()
        if isinstance(layer, (nn.Conv2d, WeightNormConv2d))
    ]
    try:
        module(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(4, 8, 8, stride=4), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Flatten(),
        nn.LazyLinear(3),
    )  # fmt: skip


@pytest.mark.parametrize("normalized", [False, True])
def test_convolutions_get_channels_last_inputs_and_compute_the_same(normalized: bool) -> None:
    torch.manual_seed(0)
    net = small_cnn()
    x = torch.rand(5, 4, 40, 40)
    net(x)  # materialize the lazy layer
    if normalized:
        net = weight_norm(net)
    expected = net(x)
    before = convolution_inputs(net, x)
    assert not any(t.is_contiguous(memory_format=torch.channels_last) for t in before)
    assert use_channels_last(net) == 2
    assert use_channels_last(net) == 2  # idempotent: one hook per convolution
    convs = [layer for layer in net if isinstance(layer, (nn.Conv2d, WeightNormConv2d))]
    assert all(len(layer._forward_pre_hooks) == 1 for layer in convs)
    after = convolution_inputs(net, x)
    assert all(t.is_contiguous(memory_format=torch.channels_last) for t in after)
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-6)
    net(x).sum().backward()  # gradients flow through the layout change
    assert all(p.grad is not None for p in net.parameters())


def test_non_image_inputs_pass_through_unchanged() -> None:
    conv = nn.Conv2d(2, 3, 3)
    use_channels_last(conv)
    unbatched = torch.rand(2, 6, 6)
    torch.testing.assert_close(conv(unbatched), conv(unbatched.unsqueeze(0))[0])


@pytest.mark.parametrize("norm", ["none", "wn"])
def test_policy_layout_is_invisible_in_outputs_and_checkpoints(norm: str, tmp_path) -> None:
    obs = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    fast = WNDQNPolicy(IMAGE, spaces.Discrete(4), lambda _: 1e-4, norm=norm)
    slow = WNDQNPolicy(IMAGE, spaces.Discrete(4), lambda _: 1e-4, norm=norm, channels_last=False)
    slow.load_state_dict(fast.state_dict())
    assert fast.channels_last and not slow.channels_last
    assert all(t.is_contiguous() for t in fast.state_dict().values())  # parameters keep NCHW
    with torch.no_grad():
        torch.testing.assert_close(fast.q_net(obs.float()), slow.q_net(obs.float()))
    inputs = convolution_inputs(fast.q_net, obs.float())
    assert len(inputs) == 3
    assert all(t.is_contiguous(memory_format=torch.channels_last) for t in inputs)
    fast.save(tmp_path / "policy.pth")
    loaded = WNDQNPolicy.load(tmp_path / "policy.pth")
    assert loaded.channels_last and loaded.norm == norm
    assert len(convolution_inputs(loaded.q_net, obs.float())) == 3
    with torch.no_grad():
        torch.testing.assert_close(loaded.q_net(obs.float()), fast.q_net(obs.float()))


@pytest.mark.slow
def test_ppo_trains_with_channels_last_convolutions() -> None:
    from wnrl.envs.factory import make_env

    env = make_env("ALE/Breakout-v5", n_envs=2, seed=0)
    model = PPO(WNActorCriticPolicy, env, n_steps=16, batch_size=16, n_epochs=1, seed=0)
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(32)
    after = model.policy.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    env.close()


def test_fast_optimizer_kwargs() -> None:
    assert fast_optimizer_kwargs(torch.optim.Adam, None) == {"fused": True}
    assert fast_optimizer_kwargs(torch.optim.AdamW, {"eps": 1e-5}) == {"eps": 1e-5, "fused": True}
    assert fast_optimizer_kwargs(torch.optim.Adamax, {}) == {"foreach": True}
    assert fast_optimizer_kwargs(torch.optim.RMSprop, {}) == {"foreach": True}
    # fused SGD / Adagrad exist but not on every device of every supported torch: foreach
    assert fast_optimizer_kwargs(torch.optim.SGD, {}) == {"foreach": True}
    assert fast_optimizer_kwargs(torch.optim.Adagrad, {}) == {"foreach": True}
    for chosen in ({"foreach": False}, {"fused": False}, {"differentiable": True}):
        assert fast_optimizer_kwargs(torch.optim.Adam, chosen) == chosen  # the caller's choice

    class NoOptions(torch.optim.SGD):
        def __init__(self, params, lr: float = 0.1) -> None:
            super().__init__(params, lr=lr)

    assert fast_optimizer_kwargs(NoOptions, {}) == {}
    given = {"eps": 1e-5}
    fast_optimizer_kwargs(torch.optim.Adam, given)
    assert given == {"eps": 1e-5}  # not modified in place


# --- one-pass image preprocessing ----------------------------------------------------------


def test_normalized_image_equals_sb3_preprocessing_bit_for_bit() -> None:
    from stable_baselines3.common.preprocessing import preprocess_obs

    every_byte = torch.arange(256, dtype=torch.uint8).view(4, 1, 8, 8).expand(4, 4, 8, 8)
    for obs in (every_byte, every_byte[0], torch.randint(0, 256, (3, 4, 84, 84)).byte()):
        expected = preprocess_obs(obs, spaces.Box(0, 255, obs.shape[-3:], np.uint8))
        for layout in (True, False):
            got = normalized_image(obs, channels_last=layout)
            assert got.dtype == torch.float32 and torch.equal(got, expected)
            if layout and obs.dim() == 4:
                assert got.is_contiguous(memory_format=torch.channels_last)
                assert not got.is_contiguous()
            else:
                assert got.is_contiguous()


@pytest.mark.parametrize(
    ("space", "obs", "normalize"),
    [
        (IMAGE, torch.rand(2, 4, 84, 84), True),  # already float: SB3's path
        (spaces.Box(0, 1, (4,), np.float32), torch.zeros(2, 4, dtype=torch.uint8), True),
        (IMAGE, torch.zeros(2, 4, 84, 84, dtype=torch.uint8), False),  # not normalized
    ],
)
def test_other_inputs_take_sb3s_path(space, obs, normalize) -> None:
    class Model(nn.Module):
        observation_space = space
        normalize_images = normalize

    assert fast_image_input(Model(), obs) is None


def image_policy(cls: type, action_space: spaces.Space, **kwargs) -> nn.Module:
    return cls(IMAGE, action_space, lambda _: 1e-4, **kwargs)


BOX_ACTIONS = spaces.Box(-1, 1, (2,), np.float32)


@pytest.mark.parametrize(
    ("cls", "action_space", "networks"),
    [
        (WNDQNPolicy, spaces.Discrete(3), ("q_net", "q_net_target")),
        (WNQRDQNPolicy, spaces.Discrete(3), ("quantile_net", "quantile_net_target")),
        (WNSACPolicy, BOX_ACTIONS, ("actor", "critic", "critic_target")),
        (WNTD3Policy, BOX_ACTIONS, ("actor", "actor_target", "critic", "critic_target")),
    ],
)
def test_every_network_normalizes_images_in_one_pass(cls, action_space, networks) -> None:
    policy = image_policy(cls, action_space)
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    for name in networks:
        network = getattr(policy, name)
        assert isinstance(network, FastImageInput), name
        extractor = network.features_extractor
        with torch.no_grad():
            features = network.extract_features(obs, extractor)
            torch.testing.assert_close(features, extractor(obs.float() / 255.0))
        assert network.image_channels_last  # SB3's NatureCNN: channels-last all the way
        image = fast_image_input(network, obs)
        assert image.is_contiguous(memory_format=torch.channels_last)
        inputs = convolution_inputs(extractor, image)
        assert all(t.is_contiguous(memory_format=torch.channels_last) for t in inputs)


@pytest.mark.parametrize("shared", [True, False])
def test_actor_critic_features_match_sb3s(shared: bool) -> None:
    policy = image_policy(WNActorCriticPolicy, spaces.Discrete(3), share_features_extractor=shared)
    assert policy.image_channels_last
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        features = policy.extract_features(obs)
        reference = ActorCriticPolicy.extract_features(policy, obs)  # SB3's preprocessing
    if shared:
        torch.testing.assert_close(features, reference)
    else:
        for got, expected in zip(features, reference, strict=True):
            torch.testing.assert_close(got, expected)
        with pytest.warns(UserWarning, match="not shared"):
            policy.extract_features(obs, policy.pi_features_extractor)


def test_only_cpu_inputs_change_layout() -> None:
    """CUDA (here: the meta device) keeps SB3's NCHW layout: only the CPU was measured."""
    conv = nn.Conv2d(4, 8, 3, device="meta")
    use_channels_last(conv)
    x = torch.empty(2, 4, 9, 9, device="meta")
    (seen,) = convolution_inputs(conv, x)
    assert seen is x


def test_image_input_layout_follows_the_flag_and_the_device() -> None:
    class Model(nn.Module):
        observation_space = IMAGE
        normalize_images = True

    model = Model()
    frames = torch.zeros(2, 4, 84, 84, dtype=torch.uint8)
    assert fast_image_input(model, frames).is_contiguous()  # default: SB3's NCHW
    model.image_channels_last = True
    cpu = fast_image_input(model, frames)
    assert cpu.is_contiguous(memory_format=torch.channels_last) and not cpu.is_contiguous()
    meta = fast_image_input(model, frames.to("meta"))
    assert meta.is_contiguous() and meta.dtype == torch.float32


class ViewingExtractor(BaseFeaturesExtractor):
    """A typical user extractor: flattens with ``.view``, which needs NCHW tensors."""

    def __init__(self, observation_space: spaces.Box) -> None:
        super().__init__(observation_space, features_dim=16)
        self.conv = nn.Conv2d(4, 8, 8, stride=4)
        self.linear = nn.Linear(8 * 20 * 20, 16)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        assert obs.is_contiguous()
        h = torch.relu(self.conv(obs))
        return self.linear(h.view(h.size(0), -1))


@pytest.mark.parametrize("norm", ["none", "wn"])
def test_custom_extractors_keep_sb3s_layout(norm: str) -> None:
    kwargs = {"features_extractor_class": ViewingExtractor}
    dqn = image_policy(WNDQNPolicy, spaces.Discrete(3), norm=norm, **kwargs)
    ppo = image_policy(WNActorCriticPolicy, spaces.Discrete(3), norm=norm, **kwargs)
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    for policy in (dqn, ppo):
        assert policy.channels_last  # the default, yet no hook on a custom extractor
        convs = [m for m in policy.modules() if isinstance(m, (nn.Conv2d, WeightNormConv2d))]
        assert convs and not any(conv._forward_pre_hooks for conv in convs)
        actions, _ = policy.predict(obs.numpy())
        assert actions.shape == (2,)


def test_saved_policies_record_the_callers_optimizer_choice(tmp_path) -> None:
    policy = image_policy(WNDQNPolicy, spaces.Discrete(3), optimizer_kwargs={"eps": 1e-5})
    assert policy.optimizer.defaults["fused"] is True and policy.optimizer.defaults["eps"] == 1e-5
    params = policy._get_constructor_parameters()
    assert params["optimizer_kwargs"] == {"eps": 1e-5}  # the default is re-derived on load
    policy.save(tmp_path / "policy.pth")
    loaded = WNDQNPolicy.load(tmp_path / "policy.pth")
    assert loaded.optimizer.defaults["fused"] is True and loaded.optimizer.defaults["eps"] == 1e-5
