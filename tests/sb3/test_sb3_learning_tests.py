"""SB3's own learning tests (identity envs, HER on bit flipping) with wnrl's policy classes at
wnrl's defaults: where SB3's class reaches SB3's pass mark, wnrl's must too.

The cases, settings and pass marks are ``scripts/sb3_learning_tests.py``'s; the seeds are SB3's
and others on which SB3's own class passes (its output, 10 seeds, is committed in
``docs/results/sb3-learning-tests/output.txt``). The cells where wnrl's class does not reach
the mark there are expected failures (strict: one that starts passing fails the test, so the
list stays true), each named with its measured score.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from sb3_learning_tests import CASES, Case, run  # noqa: E402

BY_NAME = {case.name: case for case in CASES}
#: (case, seed) cells where SB3's class passes, checked with wnrl's: SB3's seed first
PASSING = {
    **{name: (3, 0, 1) for name in ("a2c-identity", "ppo-identity", "dqn-identity")},
    "a2c-multidiscrete": (3, 1, 2),
    "ppo-multidiscrete": (3, 1, 2),
    **{name: (0, 1, 3) for name in ("a2c-box", "ppo-box", "sac-box", "td3-box")},
    "a2c-multibinary": (3,),
    "ppo-multibinary": (7,),
    "dqn-her-bitflip": (8,),
}
#: cells where SB3's class passes and wnrl's does not (scores: SB3's class, wnrl's)
SHORT_OF_THE_MARK = {
    ("ppo-multibinary", 3): "93.75 vs 87.30",
    ("a2c-multibinary", 9): "92.50 vs 87.20",
    ("dqn-her-bitflip", 0): "0.92 vs 0.80",
    ("dqn-her-bitflip", 4): "0.96 vs 0.48",
    ("dqn-her-bitflip", 6): "0.98 vs 0.62",
}


def _cells() -> list:
    cells = [
        pytest.param(BY_NAME[name], seed, id=f"{name}-s{seed}")
        for name, seeds in PASSING.items()
        for seed in seeds
    ]
    for (name, seed), scores in SHORT_OF_THE_MARK.items():
        reason = f"wnrl's class scores below SB3's mark here (SB3's class vs wnrl's: {scores})"
        mark = pytest.mark.xfail(strict=True, reason=reason)
        cells.append(pytest.param(BY_NAME[name], seed, id=f"{name}-s{seed}", marks=mark))
    return cells


def test_every_case_of_sb3_is_covered() -> None:
    assert set(PASSING) == set(BY_NAME)


@pytest.mark.slow
@pytest.mark.parametrize(("case", "seed"), _cells())
def test_wnrl_s_class_reaches_sb3_s_mark(case: Case, seed: int) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the committed scores were measured on one thread
    try:
        score = run(case, wnrl_policy=True, seed=seed)
    finally:
        torch.set_num_threads(threads)
    assert case.passes(score), f"{case.name} seed {seed}: {score:.2f}"
