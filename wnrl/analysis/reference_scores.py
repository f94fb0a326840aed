"""Every published or measured score wnrl's results are read against, with its source.

One owner for these numbers: the statistics normalize by :data:`REFERENCES`, the tables and
figures quote :data:`PAPER_DQN`, :data:`RL_ZOO_10M` and :data:`MINATAR_RANDOM`, and nothing
else in wnrl types a reference score. A normalized score is ``(score - random) / (best -
random)`` with both ends fixed here, never taken from the runs being compared, so aggregates
stay comparable across studies and releases.
"""

from __future__ import annotations

from dataclasses import dataclass

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
#: (its output, with standard errors, is ``docs/results/minatar-random/output.txt``).
MINATAR_RANDOM: dict[str, float] = {
    "Asterix": 0.47,
    "Breakout": 0.35,
    "Freeway": 0.33,
    "Seaquest": 0.06,
    "SpaceInvaders": 3.92,
}

_GYMNAX = (
    "PPO at 10M steps, gymnax README (RobertTLange/gymnax, table of accelerated environments, "
    "'(R: {0})'; steps from gymnax-blines agents/{1}-MinAtar/ppo.yaml); gymnax's MinAtar has "
    "no sticky actions and caps episodes at 1,000 steps"
)
_PGX = (
    "PPO at 20M steps (sticky actions 0.1, minimal action set), the end of the evaluation curve "
    "read off Pgx's figure (sotetsuk/pgx examples/minatar-ppo/assets/seaquest.png, about 54): "
    "no source publishes a Seaquest return as text"
)

#: A published trained agent's return on each MinAtar game: the "best" end of MinAtar
#: normalization, and its source (which agent, how many steps, how it differs from ``-v1``).
MINATAR_PUBLISHED: dict[str, tuple[float, str]] = {
    "Asterix": (15.0, _GYMNAX.format(15, "Asterix")),
    "Breakout": (28.0, _GYMNAX.format(28, "Breakout")),
    "Freeway": (58.0, _GYMNAX.format(58, "Freeway")),
    "Seaquest": (54.0, _PGX),
    "SpaceInvaders": (131.0, _GYMNAX.format(131, "SpaceInvaders")),
}


@dataclass(frozen=True)
class Reference:
    """The two ends of an env's normalized score, and where each comes from."""

    random: float
    best: float
    source: str


_MNIH = "random and human scores of Mnih et al. (2015), Nature 518, extended data table 2"
_RANDOM = "random: about a uniformly random policy's mean return"
#: the identity envs of SB3's tests (100 steps an episode, reward 1 per hit): 1 in 4 actions
#: hits IdentityEnv(4), 1 in 16 IdentityEnvMultiBinary(4); IdentityEnvBox(eps=0.5) rewards
#: |action - state| <= 0.5 with both uniform on [-1, 1]: 1 - 1.5**2 / 4 = 0.4375
_IDENTITY = "a uniformly random policy (computed); every step rewarded"

#: (random, best, source) per score key (:func:`wnrl.analysis.runs.score_key`: the game name,
#: ``MinAtar-<game>`` for MinAtar's version, ``Identity-<kind>`` for SB3's identity envs).
REFERENCES: dict[str, Reference] = {
    "Breakout": Reference(1.7, 31.8, _MNIH),
    "Enduro": Reference(0.0, 860.5, _MNIH),
    "Seaquest": Reference(68.4, 20182.0, _MNIH),
    "SpaceInvaders": Reference(148.0, 1652.0, _MNIH),
    "Pong": Reference(-20.7, 9.3, _MNIH),
    "CartPole": Reference(22.0, 500.0, f"{_RANDOM}; best: the episode limit of CartPole-v1"),
    "Acrobot": Reference(-500.0, -100.0, f"{_RANDOM}; best: gymnasium's reward_threshold"),
    "MountainCar": Reference(-200.0, -110.0, f"{_RANDOM}; best: gymnasium's reward_threshold"),
    "Pendulum": Reference(
        -1200.0, -150.0, f"{_RANDOM}; best: a swung-up, balanced pendulum (no gymnasium threshold)"
    ),
    "Identity-discrete": Reference(25.0, 100.0, _IDENTITY),
    "Identity-multibinary": Reference(6.25, 100.0, _IDENTITY),
    "Identity-box": Reference(43.75, 100.0, _IDENTITY),
    **{
        f"MinAtar-{game}": Reference(
            MINATAR_RANDOM[game],
            best,
            f"random: scripts/minatar_random.py (200 games); best: {source}",
        )
        for game, (best, source) in MINATAR_PUBLISHED.items()
    },
}


def random_score(key: str) -> float | None:
    """A uniformly random policy's score for a score key, where it is known."""
    if key in REFERENCES:
        return REFERENCES[key].random
    game = key.removeprefix("MinAtar-")
    return MINATAR_RANDOM.get(game) if key.startswith("MinAtar-") else None
