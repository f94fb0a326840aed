"""Published scores wnrl's results are read against: the paper's DQN table, RL Zoo's Atari."""

from __future__ import annotations

#: Salimans & Kingma (2016), "Weight Normalization", arXiv:1602.07868, sec. 5.4, table of the
#: maximum test score reached by DQN: (DQN normal, DQN + weight norm, Mnih et al. 2015).
PAPER_DQN: dict[str, tuple[float, float, float]] = {
    "Breakout": (410, 403, 401),
    "Enduro": (1250, 1448, 302),
    "Seaquest": (7188, 7375, 5286),
    "SpaceInvaders": (1779, 2179, 1975),
}


#: Stable-Baselines3 RL Zoo benchmark, Atari NoFrameskip-v4, 10M steps, one seed per game
#: (rl-baselines3-zoo, benchmark.md).
RL_ZOO_10M: dict[str, dict[str, float]] = {
    "Breakout": {"dqn": 358.3, "qrdqn": 393.6, "ppo": 398.0, "a2c": 279.8},
    "Pong": {"dqn": 20.60, "qrdqn": 20.49, "ppo": 20.99, "a2c": 17.29},
    "Enduro": {"dqn": 830.9, "qrdqn": 3231.2, "ppo": 996.4, "a2c": 0.0},
    "Seaquest": {"dqn": 2000.3, "qrdqn": 2557.6, "ppo": 1783.6, "a2c": 1721.5},
    "SpaceInvaders": {"dqn": 622.7, "qrdqn": 1899.9, "ppo": 960.3, "a2c": 627.2},
}


#: A uniformly random policy's mean score on each MinAtar game (``-v1``: minimal action set,
#: sticky actions 0.1), 200 whole games each, measured by ``python scripts/minatar_random.py``
#: (the README gives its output with standard errors). The MinAtar README's own check reports
#: about 0.5 for Breakout with the full 6-action set. MinAtar's published DQN results
#: (Young & Tian 2019) exist only as plotted curves, so wnrl quotes no DQN number for them.
MINATAR_RANDOM: dict[str, float] = {
    "Asterix": 0.47,
    "Breakout": 0.35,
    "Freeway": 0.33,
    "Seaquest": 0.06,
    "SpaceInvaders": 3.92,
}
