"""Fixtures of the wnrl.experiment tests: tiny real models, trained once per session (tests
that use ``cartpole`` or ``atari`` evaluate a trained agent: slow), and an untrained one."""

from __future__ import annotations

from pathlib import Path

import pytest
from evaluation_models import ATARI, CARTPOLE
from stable_baselines3 import DQN

from wnrl.envs import make_env
from wnrl.policies import WNDQNPolicy


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


CARTPOLE_KWARGS = {"learning_starts": 50, "buffer_size": 1_000, "policy_kwargs": {"net_arch": [32]}}


def saved_dqn(path: Path, env_id: str, steps: int, **kwargs: object) -> tuple[DQN, Path]:
    """A WN DQN on ``env_id`` trained ``steps`` steps (0: as built), saved at ``path``."""
    env = make_env(env_id, seed=0)
    model = DQN(WNDQNPolicy, env, seed=0, **kwargs)  # type: ignore[arg-type]
    if steps:
        model.learn(steps)
    model.save(path)
    env.close()
    return model, path


@pytest.fixture(scope="session")
def cartpole(models_dir: Path) -> tuple[DQN, Path]:
    """A WN DQN trained 200 steps on CartPole (greedy play: short, nearly constant episodes)."""
    return saved_dqn(models_dir / "cartpole.zip", CARTPOLE, 200, **CARTPOLE_KWARGS)


@pytest.fixture(scope="session")
def atari(models_dir: Path) -> tuple[DQN, Path]:
    """A WN DQN (small NatureCNN) trained a few dozen steps on SpaceInvaders."""
    return saved_dqn(
        models_dir / "invaders.zip", ATARI, 40, learning_starts=16, buffer_size=100,
        batch_size=8, train_freq=4,
        policy_kwargs={"features_extractor_kwargs": {"features_dim": 32}},
    )  # fmt: skip


@pytest.fixture(scope="session")
def untrained_cartpole(models_dir: Path) -> tuple[DQN, Path]:
    """The cartpole model as built, untrained: for the tests of arguments, errors and files."""
    return saved_dqn(models_dir / "cartpole-untrained.zip", CARTPOLE, 0, **CARTPOLE_KWARGS)
