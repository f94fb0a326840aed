"""Why does mean-only batch norm break SAC? A probe of the critic's two modes (not a test gate).

SB3's SAC computes the critic's prediction in training mode (mean-only BN subtracts the mean of
the replay batch) and the TD target with the target critic in eval mode (it subtracts the
running mean, which the actor-loss forward on (s, pi(s)) updates too). A systematic gap between
the two modes biases every target. This trains SAC on Pendulum-v1 with the learning check's
settings (the `continuous` preset, its 10,000-step budget, the data-dependent init as `wnrl
train` runs it) for each variant and prints, whatever
it shows, per seed: the final evaluation return (deterministic, 10 episodes) and the mean gap
Q_train - Q_eval of the critic on a replay batch.

Variants: ``none``, ``wn``, ``wn+mobn`` (SB3's modes) and ``wn+mobn/target-train`` (the target
critic in training mode too: both sides of the TD target use batch statistics).

    python scripts/mobn_sac_probe.py [--variants none,wn,wn+mobn,wn+mobn/target-train]
        [--seeds 3] [--steps 10000]
"""

from __future__ import annotations

import argparse

import torch
from stable_baselines3 import SAC
from stable_baselines3.common.evaluation import evaluate_policy

from wnrl.callbacks import DataDependentInit
from wnrl.envs import make_env
from wnrl.experiment.config import build_config
from wnrl.experiment.presets import materialize_hyperparams, materialize_policy_kwargs
from wnrl.nn.norms import uses_weight_norm
from wnrl.policies import WNSACPolicy

VARIANTS = ("none", "wn", "wn+mobn", "wn+mobn/target-train")


class ProbedPolicy(WNSACPolicy):
    """SAC's wnrl policy without the refusal of wn+mobn: the probe studies it."""

    refuse_norms = False


def build(variant: str, seed: int, steps: int) -> tuple[SAC, list]:
    """The variant's model, and the callbacks ``wnrl train`` would give it (the init)."""
    norm, _, mode = variant.partition("/")
    config = build_config("sac", "Pendulum-v1", norm="wn", seed=seed, steps=steps)
    policy_kwargs = {**materialize_policy_kwargs(config["policy_kwargs"]), "norm": norm}
    env = make_env(config["env"], n_envs=config["n_envs"], seed=seed)
    model = SAC(
        ProbedPolicy, env, seed=seed, device="cpu", policy_kwargs=policy_kwargs,
        **materialize_hyperparams(config["hyperparams"]),
    )  # fmt: skip
    if mode == "target-train":  # SAC.train sets the modes of actor and critic, never the target's
        model.policy.critic_target.set_training_mode(True)
    callbacks = [DataDependentInit()] if config["ddi"] and uses_weight_norm(norm) else []
    return model, callbacks


def mode_gap(model: SAC) -> float:
    """Mean of Q_train(s, a) - Q_eval(s, a) over a replay batch (first critic)."""
    batch = model.replay_buffer.sample(256)
    critic = model.policy.critic
    with torch.no_grad():
        critic.set_training_mode(True)
        train = critic(batch.observations, batch.actions)[0]
        critic.set_training_mode(False)
        evaluated = critic(batch.observations, batch.actions)[0]
    return float((train - evaluated).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'variant':<22} {'seed':>4} {'eval':>8} {'Q_train - Q_eval':>17}")
    for variant in args.variants.split(","):
        for seed in range(args.seeds):
            model, callbacks = build(variant, seed, args.steps)
            model.learn(args.steps, callback=callbacks)
            score, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=10, warn=False)
            print(f"{variant:<22} {seed:>4} {score:>8.1f} {mode_gap(model):>17.3f}", flush=True)
            model.get_env().close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
