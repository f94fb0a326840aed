"""How large are a PPO policy's features and outputs at the start of training, per norm?

Builds PPO's actor-critic (the `WNMlpPolicy` / `WNCnnPolicy` defaults: SB3's orthogonal init,
then the norm rewrite) on a batch of real observations of each env (random actions), runs the
data-dependent init of paper sec. 3 for the weight-norm norms (as `wnrl train` does before the
first update) and prints the scale of the features, of the value head's output across states and
of the action logits. A diagnostic for the learning-quality evidence: an init that makes the
outputs much larger than SB3's own network does changes the first updates. Prints whatever it
measures.

    python scripts/init_scales.py [--envs BreakoutNoFrameskip-v4,CartPole-v1] [--norms none,wn]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from stable_baselines3 import PPO

from wnrl.envs import is_atari, make_env


def observations(env_id: str, n: int, seed: int) -> tuple[object, np.ndarray]:
    """A VecEnv of ``env_id`` and ``n`` observations of it under random actions."""
    env = make_env(env_id, n_envs=8, seed=seed)
    env.action_space.seed(seed)
    batches = [env.reset()]
    while sum(len(b) for b in batches) < n:
        actions = np.array([env.action_space.sample() for _ in range(env.num_envs)])
        batches.append(env.step(actions)[0])
    return env, np.concatenate(batches)[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", default="BreakoutNoFrameskip-v4,CartPole-v1")
    parser.add_argument("--norms", default="none,wn")
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{'env':<24} {'norm':<8} {'feature rms':>11} {'value std':>9} {'logit std':>9}")
    for env_id in args.envs.split(","):
        env, obs = observations(env_id, args.samples, args.seed)
        policy_name = "WNCnnPolicy" if is_atari(env_id) else "WNMlpPolicy"
        for norm in args.norms.split(","):
            model = PPO(policy_name, env, policy_kwargs={"norm": norm}, seed=args.seed)
            policy = model.policy
            batch = policy.obs_to_tensor(obs)[0]
            if norm.startswith("wn"):
                policy.data_dependent_init(batch)
            with torch.no_grad():
                features = policy.extract_features(batch)
                latent_pi, latent_vf = policy.mlp_extractor(features)
                values = policy.value_net(latent_vf)
                logits = policy.action_net(latent_pi)
            print(
                f"{env_id:<24} {norm:<8} {features.pow(2).mean().sqrt().item():>11.4f} "
                f"{values.std().item():>9.4f} {logits.std(0).mean().item():>9.4f}"
            )
        env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
