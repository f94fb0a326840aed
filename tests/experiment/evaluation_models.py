"""The envs and checks of the evaluation tests (their models are fixtures: conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN

CARTPOLE = "CartPole-v1"
ATARI = "ALE/SpaceInvaders-v5"  # points per invader 5..30: unclipped scores are multiples of 5


def q_values(model: DQN, obs: np.ndarray) -> np.ndarray:
    tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        return model.policy.q_net(tensor).numpy()


def assert_one_line(error: pytest.ExceptionInfo[BaseException], *names: object) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for name in names:
        assert str(name) in message, message
