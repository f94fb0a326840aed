"""The reference side of the throughput benchmarks: each job as an SB3 user writes it, no wnrl.

The same algorithm, network and hyperparameters as the wnrl preset it is measured against
(``scripts/bench_process.py`` runs this script and ``wnrl train`` as whole processes, A B A B):

  minatar-dqn  DQN on MinAtar Breakout with the ``minatar`` preset's settings (centered RMSprop,
               one update per step, replay 100k, target every 1,000) and the MinAtar paper's
               network (Conv 3x3x16 + 128 units), written as an SB3 features extractor
  atari-dqn    DQN("CnnPolicy") on Breakout, RL Zoo's Atari settings (make_atari_env +
               VecFrameStack, terminal on life loss)
  atari-ppo    PPO("CnnPolicy") on Breakout, 8 envs, RL Zoo's Atari settings

Both sides log to TensorBoard; neither evaluates nor checkpoints (``wnrl train`` is run with
``--eval-every 0 --checkpoint-every 0``). Exploration and schedules run over the preset's
horizon whatever ``--steps`` is, as ``wnrl train`` does.

    python scripts/sb3_reference.py minatar-dqn --steps 12000 --seed 1 --logdir /tmp/sb3
"""

from __future__ import annotations

import argparse

import gymnasium as gym
import torch
from stable_baselines3 import DQN, PPO
from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecFrameStack
from torch import nn

JOBS = ("minatar-dqn", "atari-dqn", "atari-ppo")


class MinAtarNet(BaseFeaturesExtractor):
    """Young & Tian (2019): Conv2d(C, 16, 3) + ReLU, Linear(1024, 128) + ReLU, channel-last in."""

    def __init__(self, observation_space: gym.spaces.Box, features_dim: int = 128) -> None:
        super().__init__(observation_space, features_dim)
        height, width, channels = observation_space.shape
        self.conv = nn.Sequential(nn.Conv2d(channels, 16, 3), nn.ReLU(), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(16 * (height - 2) * (width - 2), features_dim), nn.ReLU())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(observations.permute(0, 3, 1, 2)))


def minatar_dqn(steps: int, seed: int, logdir: str) -> DQN:
    from minatar.gym import register_envs

    register_envs()
    env = gym.make("MinAtar/Breakout-v1")
    return DQN(
        "MlpPolicy",
        env,
        buffer_size=100_000,
        learning_rate=2.5e-4,
        batch_size=32,
        learning_starts=5_000,
        target_update_interval=1_000,
        train_freq=1,
        gradient_steps=1,
        gamma=0.99,
        exploration_initial_eps=1.0,
        exploration_final_eps=0.1,
        exploration_fraction=min(1.0, 100_000 / steps),  # epsilon 1 -> 0.1 over 100k steps
        policy_kwargs=dict(
            features_extractor_class=MinAtarNet,
            net_arch=[],
            optimizer_class=torch.optim.RMSprop,
            optimizer_kwargs=dict(alpha=0.95, momentum=0.95, eps=0.01, centered=True),
        ),
        tensorboard_log=logdir,
        seed=seed,
    )


#: RL Zoo's Atari DQN hyperparameters (rl-baselines3-zoo hyperparams/dqn.yml, atari)
ATARI_DQN_HP = dict(
    buffer_size=100_000,
    learning_rate=1e-4,
    batch_size=32,
    learning_starts=100_000,
    target_update_interval=1000,
    train_freq=4,
    gradient_steps=1,
    exploration_fraction=0.1,
    exploration_final_eps=0.01,
    optimize_memory_usage=False,
)
#: RL Zoo's Atari PPO hyperparameters (rl-baselines3-zoo hyperparams/ppo.yml, atari)
ATARI_PPO_HP = dict(
    n_steps=128,
    n_epochs=4,
    batch_size=256,
    learning_rate=LinearSchedule(2.5e-4, 0.0, 1.0),
    clip_range=LinearSchedule(0.1, 0.0, 1.0),
    vf_coef=0.5,
    ent_coef=0.01,
)


def _register_atari() -> None:
    """gymnasium 1.x finds the ALE/ ids once ale-py registers them (as an SB3 user writes it)."""
    import ale_py

    gym.register_envs(ale_py)


def atari_dqn(steps: int, seed: int, logdir: str) -> DQN:
    _register_atari()
    env = make_atari_env(
        "ALE/Breakout-v5",
        n_envs=1,
        seed=seed,
        env_kwargs={"frameskip": 1},
        wrapper_kwargs={"terminal_on_life_loss": True},
    )
    return DQN(
        "CnnPolicy", VecFrameStack(env, 4), tensorboard_log=logdir, seed=seed, **ATARI_DQN_HP
    )


def atari_ppo(steps: int, seed: int, logdir: str) -> PPO:
    _register_atari()
    env = make_atari_env("ALE/Breakout-v5", n_envs=8, seed=seed, env_kwargs={"frameskip": 1})
    return PPO(
        "CnnPolicy", VecFrameStack(env, 4), tensorboard_log=logdir, seed=seed, **ATARI_PPO_HP
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("job", choices=JOBS)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--logdir", default="runs-sb3")
    parser.add_argument("--learning-starts", type=int, help="override (short Atari DQN runs)")
    args = parser.parse_args()
    build = {"minatar-dqn": minatar_dqn, "atari-dqn": atari_dqn, "atari-ppo": atari_ppo}
    model = build[args.job](args.steps, args.seed, args.logdir)
    if args.learning_starts is not None:
        model.learning_starts = args.learning_starts
    model.learn(args.steps)
    model.save(f"{args.logdir}/model.zip")


if __name__ == "__main__":
    main()
