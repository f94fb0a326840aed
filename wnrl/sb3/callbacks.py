"""SB3 callbacks: the paper's data-dependent init on the agent's own data, and WN diagnostics.

* :class:`DataDependentInit` runs :meth:`wnrl.policies.NormalizedPolicy.data_dependent_init`
  (paper sec. 3) once, right before the first gradient step, on observations the agent itself
  collected: sampled from the replay buffer once learning starts (DQN, QR-DQN, SAC, TD3), or
  the first rollout (PPO, A2C). It then copies the result into the target networks. For PPO /
  A2C it also re-evaluates that first rollout with the initialized policy (values,
  log-probabilities, the value bootstrap of truncated episodes, returns and advantages), so
  the first update clips and bootstraps against the policy that now exists.
* :class:`WeightNormLogger` writes, per weight-normalized layer, ``||v||``, the mean and spread
  of ``g`` and the effective step-size proxy ``g/||v||`` to SB3's logger (hence TensorBoard),
  so the norm growth and self-stabilization of paper sec. 2.1 can be watched during training.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor

from wnrl.names import WEIGHT_NORM_LOG_EVERY
from wnrl.nn.convert import weight_norm_layers
from wnrl.nn.initialization import LayerInitStats

__all__ = ["DataDependentInit", "WeightNormLogger", "online_networks"]


def _require_wnrl_policy(model: BaseAlgorithm) -> Any:
    policy = model.policy
    if not hasattr(policy, "data_dependent_init"):
        raise TypeError(
            f"{type(policy).__name__} is not a wnrl policy: use one of wnrl.policies "
            "(WNDQNPolicy, WNQRDQNPolicy, WNActorCriticPolicy, WNSACPolicy, WNTD3Policy)"
        )
    return policy


class DataDependentInit(BaseCallback):
    """Data-dependent initialization (paper sec. 3) on the agent's own observations.

    Args:
        n_samples: size of the init batch (the reference code used 100 to 500). Off-policy
            algorithms sample it from the replay buffer (fewer if the buffer holds fewer);
            on-policy ones take the first ``n_samples`` transitions of the first rollout.
        init_scale: the target std of every hidden layer's pre-activations.
        head_scales: overrides of the per-role output-head scales
            (:data:`wnrl.policies.DEFAULT_HEAD_SCALES`: policy 0.01, value 1.0, q 1.0).
        rescale_plain_heads: also rescale the plain output heads (the default
            ``plain_heads=True``) to their role's scale; False leaves them as SB3 initialized
            them (an ablation: SB3's heads start with much smaller outputs on Atari frames,
            ``scripts/init_scales.py``).
        verbose: 1 prints one line per initialized layer.

    After it ran, ``self.batch`` holds the (observations, actions) it used and ``self.stats``
    the measured statistics; each layer's mean ``mu[t]`` and
    ``sigma[t]`` (averaged over units) are also recorded under ``ddi/`` in the logger.
    """

    def __init__(
        self,
        n_samples: int = 256,
        init_scale: float = 1.0,
        head_scales: dict[str, float] | None = None,
        verbose: int = 0,
        rescale_plain_heads: bool = True,
    ) -> None:
        super().__init__(verbose)
        if n_samples < 2:
            raise ValueError(f"n_samples must be at least 2, got {n_samples}")
        self.n_samples = n_samples
        self.init_scale = init_scale
        self.head_scales = head_scales
        self.rescale_plain_heads = rescale_plain_heads
        self.done = False
        self.stats: dict[str, LayerInitStats] = {}
        self.batch: tuple[Any, torch.Tensor | None] | None = None
        # (buffer step, env index, terminal observation) of episodes truncated in the rollout
        self._truncations: list[tuple[int, int, Any]] = []

    def _init_callback(self) -> None:
        _require_wnrl_policy(self.model)
        if self.model.num_timesteps > 0 and self._first_step_passed():
            self.done = True  # a resumed run: the init happened in the first session

    def _first_step_passed(self) -> bool:
        model = self.model
        if isinstance(model, OffPolicyAlgorithm):
            return model.num_timesteps > model.learning_starts
        return True

    def _on_rollout_start(self) -> None:
        self._truncations = []

    def _on_step(self) -> bool:
        if not self.done and isinstance(self.model, OnPolicyAlgorithm):
            self._note_truncations()
        return True

    def _note_truncations(self) -> None:
        """Remember the episodes SB3 is about to bootstrap (``reward += gamma V(terminal obs)``
        for time-limit truncations, right after this callback), to redo it after the init."""
        dones, infos = self.locals["dones"], self.locals["infos"]
        if not dones.any():
            return
        step = self.model.rollout_buffer.pos
        for env, done in enumerate(dones):
            info = infos[env]
            if done and info.get("terminal_observation") is not None:
                if info.get("TimeLimit.truncated", False):
                    self._truncations.append((step, env, info["terminal_observation"]))

    def _on_rollout_end(self) -> None:
        # SB3 calls this at the end of collect_rollouts, right before train(): the gradient
        # step about to happen is the first one when the condition SB3 uses for it first holds.
        if self.done or not self._first_step_passed():
            return
        observations, actions = self.batch = self._collect_batch()
        policy = _require_wnrl_policy(self.model)
        on_policy = isinstance(self.model, OnPolicyAlgorithm)
        old_bootstrap = self._terminal_values() if on_policy else []
        self.stats = policy.data_dependent_init(
            observations,
            actions,
            init_scale=self.init_scale,
            head_scales=self.head_scales,
            rescale_plain_heads=self.rescale_plain_heads,
        )
        self.done = True
        if on_policy:
            self._reevaluate_rollout(old_bootstrap)
        for name, layer_stats in self.stats.items():
            self.logger.record(f"ddi/{name}/mu", float(layer_stats.mean.mean()))
            self.logger.record(f"ddi/{name}/sigma", float(layer_stats.std.mean()))
            if self.verbose:
                print(
                    f"DDI {name}: mu[t] {layer_stats.mean.mean():+.4f}, "
                    f"sigma[t] {layer_stats.std.mean():.4f}, scale {layer_stats.init_scale:g}"
                )

    @torch.no_grad()
    def _terminal_values(self) -> list[float]:
        """``V(terminal obs)`` of each remembered truncation, with the current policy."""
        policy = self.model.policy
        policy.set_training_mode(False)
        return [
            float(policy.predict_values(policy.obs_to_tensor(obs)[0])[0])
            for _, _, obs in self._truncations
        ]

    @torch.no_grad()
    def _reevaluate_rollout(self, old_bootstrap: list[float]) -> None:
        """Make the first rollout the initialized policy's own: the truncation bootstraps SB3
        added to the rewards, the stored values and log-probabilities of the taken actions, and
        returns and advantages (GAE, as SB3 computes them) with the new values."""
        model = self.model
        policy, buffer = model.policy, model.rollout_buffer
        policy.set_training_mode(False)
        for (step, env, _), old, new in zip(
            self._truncations, old_bootstrap, self._terminal_values(), strict=True
        ):
            buffer.rewards[step, env] += model.gamma * (new - old)
        n_steps, n_envs = buffer.buffer_size, buffer.n_envs
        # as SB3's RolloutBuffer hands them to train(): float32 (MultiBinary is stored as int8)
        actions = torch.as_tensor(
            buffer.actions.reshape(n_steps * n_envs, -1).astype(np.float32), device=buffer.device
        )
        if isinstance(model.action_space, spaces.Discrete):
            actions = actions.long().flatten()
        observations = _rollout_observations(buffer, n_steps * n_envs)
        values, log_probs = [], []
        for start in range(0, n_steps * n_envs, _EVAL_CHUNK):
            chunk = slice(start, start + _EVAL_CHUNK)
            obs = (
                {key: value[chunk] for key, value in observations.items()}
                if isinstance(observations, dict)
                else observations[chunk]
            )
            value, log_prob, _ = policy.evaluate_actions(obs, actions[chunk])
            values.append(value.flatten())
            log_probs.append(log_prob.flatten())
        buffer.values[:] = torch.cat(values).cpu().numpy().reshape(n_steps, n_envs)
        buffer.log_probs[:] = torch.cat(log_probs).cpu().numpy().reshape(n_steps, n_envs)
        last_values = policy.predict_values(obs_as_tensor(self.locals["new_obs"], model.device))
        buffer.compute_returns_and_advantage(last_values=last_values, dones=self.locals["dones"])

    def _collect_batch(self) -> tuple[Any, torch.Tensor | None]:
        model = self.model
        if isinstance(model, OffPolicyAlgorithm):
            buffer = model.replay_buffer
            n = min(self.n_samples, buffer.size() * getattr(buffer, "n_envs", 1))
            samples = buffer.sample(n, env=model._vec_normalize_env)
            return samples.observations, samples.actions
        if isinstance(model, OnPolicyAlgorithm):
            return _rollout_observations(model.rollout_buffer, self.n_samples), None
        raise TypeError(f"unsupported algorithm {type(model).__name__}")


#: Observations per forward pass when re-evaluating a rollout (bounds its memory).
_EVAL_CHUNK = 512


def _rollout_observations(buffer: RolloutBuffer, n_samples: int) -> Any:
    """The first ``n_samples`` observations of a filled rollout buffer, as tensors."""
    device = buffer.device

    def first(array: np.ndarray) -> torch.Tensor:
        flat = array.reshape(-1, *array.shape[2:])[:n_samples]
        return torch.as_tensor(flat, device=device)

    if isinstance(buffer, DictRolloutBuffer):
        return {key: first(value) for key, value in buffer.observations.items()}
    return first(buffer.observations)


def online_networks(policy: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The trained (non-target) networks of an SB3 policy, by name."""
    names = ("q_net", "quantile_net", "actor", "critic")
    found = {name: getattr(policy, name) for name in names if hasattr(policy, name)}
    return found or {"policy": policy}


class WeightNormLogger(BaseCallback):
    """Log ``||v||``, ``g`` and ``g/||v||`` of every WN layer every ``every`` steps (sec. 2.1).

    Tags, per layer of the online networks (targets are copies and are skipped):
    ``weight_norm/<network>.<layer>/v_norm`` (mean over units of ``||v||``), ``g_mean``,
    ``g_std`` and ``step_scale`` (mean ``g/||v||``: under plain SGD the effective step on ``w``
    shrinks as ``||v||`` grows). A handful of small reductions per call: no measurable cost.
    """

    def __init__(self, every: int = WEIGHT_NORM_LOG_EVERY, verbose: int = 0) -> None:
        super().__init__(verbose)
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every

    def record(self) -> None:
        """Record the current values (the next logger dump writes them)."""
        for net_name, network in online_networks(self.model.policy).items():
            for layer_name, layer in weight_norm_layers(network):
                with torch.no_grad():
                    v_norm = layer.direction_norm()
                    g = layer.g.detach()
                    tag = f"weight_norm/{net_name}.{layer_name}"
                    self.logger.record(f"{tag}/v_norm", v_norm.mean().item())
                    self.logger.record(f"{tag}/g_mean", g.mean().item())
                    self.logger.record(f"{tag}/g_std", g.std(unbiased=False).item())
                    self.logger.record(f"{tag}/step_scale", (g / v_norm).mean().item())

    def _on_step(self) -> bool:
        if self.n_calls % self.every == 0:
            self.record()
        return True

    def _on_training_end(self) -> None:
        self.record()
        self.logger.record("time/total_timesteps", self.num_timesteps)  # SB3's step column
        self.logger.dump(self.num_timesteps)
