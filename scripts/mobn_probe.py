"""Why does mean-only batch norm break PPO? A probe of the batch statistics (not a test gate).

Mean-only BN (paper sec. 4) subtracts the minibatch mean in training mode and a running average
in eval mode. SB3's PPO collects its rollouts in eval mode and computes the new log-probabilities
of its update in training mode, so the two modes must agree for the clipped ratio to start at 1.
This trains PPO on CartPole-v1 with the learning check's settings (RL Zoo's `classic` preset)
and, at each checkpoint, prints for the latest rollout: the mean probability ratio between the
two modes and the share of samples whose ratio is outside PPO's clip range, and the evaluation
return (deterministic, 10 episodes) in eval mode, whatever it shows.

    python scripts/mobn_probe.py [--norms wn,wn+mobn] [--steps 50000] [--every 10000] [--seed 0]
"""

from __future__ import annotations

import argparse

import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from wnrl.policies import WNActorCriticPolicy


class ProbedPolicy(WNActorCriticPolicy):
    """PPO's wnrl policy without the refusal of wn+mobn (wnrl.names.REFUSED_NORMS): the probe
    studies the refused combination."""

    refuse_norms = False


#: RL Zoo's CartPole PPO (agents/ppo.yaml `classic`), constant rates for a plain probe
SETTINGS = dict(
    n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
    learning_rate=1e-3, clip_range=0.2,
)  # fmt: skip


def mode_ratio(model: PPO) -> tuple[float, float]:
    """Mean of pi_train(a|s) / pi_eval(a|s) over the latest rollout, and the share of samples
    whose ratio is outside [1 - clip, 1 + clip]."""
    buffer = model.rollout_buffer
    obs = torch.as_tensor(buffer.observations.reshape(-1, *model.observation_space.shape))
    actions = torch.as_tensor(buffer.actions.reshape(-1)).long()
    policy = model.policy
    with torch.no_grad():
        policy.set_training_mode(False)
        _, log_prob_eval, _ = policy.evaluate_actions(obs, actions)
        policy.set_training_mode(True)
        _, log_prob_train, _ = policy.evaluate_actions(obs, actions)
        policy.set_training_mode(False)
    ratio = torch.exp(log_prob_train - log_prob_eval)
    clip = SETTINGS["clip_range"]
    return float(ratio.mean()), float(((ratio - 1).abs() > clip).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--norms", default="wn,wn+mobn")
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'norm':<8} {'step':>7} {'ratio':>7} {'clipped':>8} {'eval':>7}")
    for norm in args.norms.split(","):
        env = make_vec_env("CartPole-v1", n_envs=8, seed=args.seed)
        model = PPO(ProbedPolicy, env, seed=args.seed, policy_kwargs={"norm": norm}, **SETTINGS)
        while model.num_timesteps < args.steps:
            model.learn(args.every, reset_num_timesteps=False)
            ratio, clipped = mode_ratio(model)
            score, _ = evaluate_policy(model, env, n_eval_episodes=10, warn=False)
            print(
                f"{norm:<8} {model.num_timesteps:>7,} {ratio:>7.3f} {clipped:>7.1%} {score:>7.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
