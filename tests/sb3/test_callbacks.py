"""DataDependentInit (paper sec. 3) and WeightNormLogger (sec. 2.1) inside real SB3 training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from wnrl.callbacks import DataDependentInit, WeightNormLogger
from wnrl.layers import MeanOnlyBatchNorm, WeightNormConv2d, WeightNormLinear
from wnrl.policies import WNActorCriticPolicy, WNDQNPolicy, WNSACPolicy, WNTD3Policy

LAYERS = (WeightNormLinear, WeightNormConv2d, nn.Linear, nn.Conv2d)


def layer_outputs(network: nn.Module, run) -> dict[nn.Module, torch.Tensor]:
    """The output of every Linear/Conv (or WN layer + mean-only BN pair) when ``run()`` runs."""
    outputs: dict[nn.Module, torch.Tensor] = {}
    hooks = []
    pairs = {
        id(m[0]): m[1]
        for m in network.modules()
        if isinstance(m, nn.Sequential) and len(m) == 2 and isinstance(m[1], MeanOnlyBatchNorm)
    }
    for module in network.modules():
        if id(module) in pairs:  # a WN layer whose pre-activation is its mean-only BN's output
            target = pairs[id(module)]
        elif isinstance(module, LAYERS):
            target = module
        else:
            continue
        hooks.append(
            target.register_forward_hook(
                lambda m, i, o, key=module: outputs.__setitem__(key, o.detach())
            )
        )
    with torch.no_grad():
        run()
    for hook in hooks:
        hook.remove()
    return outputs


def assert_normalized(outputs: dict[nn.Module, torch.Tensor], scale_of) -> None:
    assert outputs
    for layer, out in outputs.items():
        dims = [0, *range(2, out.dim())]
        mean, std = out.mean(dims), out.std(dims, unbiased=False)
        scale = scale_of(layer)
        assert mean.abs().max() < 1e-3 * max(scale, 0.1), (layer, mean.abs().max())
        assert (std - scale).abs().max() < 1e-3 * max(scale, 0.1) + 1e-4, (layer, std)


class RecordUpdatesAtInit(BaseCallback):
    """Records the number of gradient updates done when DDI first reports done."""

    def __init__(self, ddi: DataDependentInit) -> None:
        super().__init__()
        self.ddi = ddi
        self.updates_at_init: int | None = None

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.ddi.done and self.updates_at_init is None:
            self.updates_at_init = self.model._n_updates


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["wn", "none", "wn+mobn"])
def test_ddi_on_dqn_replay_batch_then_targets_synced(norm: str) -> None:
    model = DQN(
        WNDQNPolicy,
        "CartPole-v1",
        learning_starts=100,
        gradient_steps=0,  # no update after the init, so its result can be checked as it is
        policy_kwargs={"norm": norm, "net_arch": [32, 32]},
        seed=0,
    )
    ddi = DataDependentInit(n_samples=64)
    model.learn(120, callback=ddi)
    assert ddi.done and ddi.batch is not None
    obs, _ = ddi.batch
    assert obs.shape == (64, 4)
    q_net = model.policy.q_net
    head = model.policy.output_heads()
    for training in (True, False):  # batch means (mean-only BN) or running means: the same
        q_net.train(training)
        outputs = layer_outputs(q_net, lambda: q_net(obs))
        assert_normalized(outputs, lambda layer: 1.0)  # Q head: 1.0, hidden layers: 1.0
    assert len(ddi.stats) == 3 and all(k.startswith("q_net/") for k in ddi.stats)
    assert any(h in head for h in q_net.modules())
    with torch.no_grad():
        model.policy.set_training_mode(False)
        torch.testing.assert_close(model.policy.q_net_target(obs), q_net(obs))


@pytest.mark.slow
def test_ddi_runs_right_before_the_first_gradient_step() -> None:
    model = DQN(WNDQNPolicy, "CartPole-v1", learning_starts=50, train_freq=4, seed=0)
    ddi = DataDependentInit(n_samples=32)
    recorder = RecordUpdatesAtInit(ddi)
    model.learn(80, callback=CallbackList([ddi, recorder]))
    assert recorder.updates_at_init == 0 and model._n_updates > 0


@pytest.mark.slow
def test_ddi_on_ppo_first_rollout_with_small_policy_head() -> None:
    model = PPO(
        WNActorCriticPolicy,
        "CartPole-v1",
        n_steps=128,
        batch_size=64,
        learning_rate=0.0,  # the update after the init leaves the parameters where DDI put them
        seed=0,
    )
    ddi = DataDependentInit(n_samples=128)
    model.learn(128, callback=ddi)
    obs, actions = ddi.batch
    assert actions is None and obs.shape == (128, 4)
    # the batch is the first rollout's observations, in order
    torch.testing.assert_close(
        obs, torch.as_tensor(model.rollout_buffer.observations.reshape(-1, 4))
    )
    policy = model.policy
    outputs = layer_outputs(policy, lambda: policy.forward(obs))
    scales = {policy.action_net: 0.01, policy.value_net: 1.0}
    assert_normalized(outputs, lambda layer: scales.get(layer, 1.0))


@pytest.mark.slow
@pytest.mark.parametrize(("cls", "policy_cls"), [(SAC, WNSACPolicy), (TD3, WNTD3Policy)])
def test_ddi_on_actor_and_critic_with_actions(cls, policy_cls) -> None:
    model = cls(
        policy_cls,
        "Pendulum-v1",
        learning_starts=100,
        gradient_steps=0,
        policy_kwargs={"net_arch": [32, 32]},
        seed=0,
    )
    ddi = DataDependentInit(n_samples=64, head_scales={"policy": 0.1})
    model.learn(110, callback=ddi)
    obs, actions = ddi.batch
    assert actions.shape == (64, 1)
    policy = model.policy
    heads = policy.output_heads()
    scale_of = lambda layer: {"policy": 0.1, "q": 1.0}[heads[layer]] if layer in heads else 1.0  # noqa: E731
    assert_normalized(layer_outputs(policy.actor, lambda: policy.actor(obs)), scale_of)
    assert_normalized(layer_outputs(policy.critic, lambda: policy.critic(obs, actions)), scale_of)
    with torch.no_grad():
        for online, target in zip(
            policy.critic(obs, actions), policy.critic_target(obs, actions), strict=True
        ):
            torch.testing.assert_close(target, online)
        if cls is TD3:
            torch.testing.assert_close(policy.actor_target(obs), policy.actor(obs))


@pytest.mark.slow
def test_ddi_is_not_repeated_on_a_resumed_run() -> None:
    model = DQN(WNDQNPolicy, "CartPole-v1", learning_starts=20, seed=0)
    model.learn(40, callback=DataDependentInit(n_samples=16))
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    again = DataDependentInit(n_samples=16)
    model.learn(1, callback=again, reset_num_timesteps=False)
    assert again.done and again.batch is None
    assert model._n_updates > 0
    assert set(before) == set(model.policy.state_dict())


def test_ddi_refuses_sb3_policies() -> None:
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=10)
    with pytest.raises(TypeError, match="not a wnrl policy"):
        model.learn(20, callback=DataDependentInit())


def scalars(logdir: Path) -> dict[str, list[tuple[int, float]]]:
    events = sorted(logdir.rglob("events.out.tfevents.*"))
    assert events, f"no event file under {logdir}"
    result: dict[str, list[tuple[int, float]]] = {}
    for path in events:
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            result.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return result


@pytest.mark.slow
def test_weight_norm_logger_writes_tensorboard_scalars(tmp_path: Path) -> None:
    model = DQN(
        WNDQNPolicy,
        "CartPole-v1",
        learning_starts=50,
        policy_kwargs={"net_arch": [16]},
        tensorboard_log=str(tmp_path),
        seed=0,
    )
    logger = WeightNormLogger(every=40)
    model.learn(300, callback=[DataDependentInit(n_samples=32), logger], log_interval=1)
    data = scalars(tmp_path)
    for stat in ("v_norm", "g_mean", "g_std", "step_scale"):
        assert f"weight_norm/q_net.q_net.0/{stat}" in data, sorted(data)
    assert not any(tag.startswith("weight_norm/q_net.q_net.2/") for tag in data)  # plain head
    assert "ddi/q_net/q_net.2/sigma" in data  # DDI rescales the plain head too
    assert "ddi/q_net/q_net.0/sigma" in data
    assert not any("q_net_target" in tag for tag in data)  # targets are copies: not logged
    # the last values are those of the final network (written at the end of training)
    last_step, v_norm = data["weight_norm/q_net.q_net.0/v_norm"][-1]
    assert last_step == model.num_timesteps
    layer = model.policy.q_net.q_net[0]
    assert v_norm == pytest.approx(layer.direction_norm().mean().item(), rel=1e-5)
    g_over_v = (layer.g / layer.direction_norm()).mean().item()
    assert data["weight_norm/q_net.q_net.0/step_scale"][-1][1] == pytest.approx(g_over_v, 1e-5)
