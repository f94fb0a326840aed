"""Point estimates with 95% stratified-bootstrap confidence intervals (rliable), drawn the
same way on every run.

rliable 1.2 passes ``random_state`` on to arch but draws its stratified resamples with
``np.random.choice`` from numpy's global generator, so the same scores gave other intervals on
every call. Each draw here runs inside :func:`seeded_global_numpy`, which seeds that generator
and gives the caller back its state afterwards; a rliable that honors ``random_state`` gets it
too. Nothing outside the block sees a changed generator.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from rliable import library


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% confidence interval."""

    value: float
    low: float
    high: float


@contextlib.contextmanager
def seeded_global_numpy(seed: int) -> Iterator[None]:
    """Seed numpy's global generator for the block, then give the caller back its state.

    rliable 1.2's stratified bootstrap draws its resamples with ``np.random.choice`` whatever
    ``random_state`` it is given; versions that honor ``random_state`` get it as well."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def iqm(scores: np.ndarray) -> float:
    """The interquartile mean over all runs and tasks: ``rliable.metrics.aggregate_iqm`` (scipy's
    25% ``trim_mean``), the same arithmetic in the same order, without scipy's per-call argument
    handling, which took most of the time of thousands of bootstrap draws."""
    flat = np.ravel(np.asarray(scores, dtype=np.float64))
    low = int(0.25 * flat.size)
    high = flat.size - low
    return float(np.mean(np.partition(flat, (low, high - 1))[low:high]))


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y) averaged over tasks (columns): ``rliable.metrics.probability_of_improvement``,
    whose per-task Mann-Whitney U statistic is the count of pairs ``x > y`` plus half the ties,
    counted here directly (0.5 where the two columns are equal, as rliable does)."""
    per_task = []
    for task in range(scores_x.shape[1]):
        x, y = scores_x[:, task], scores_y[:, task]
        if np.array_equal(x, y):
            per_task.append(0.5)
            continue
        wins = np.sum(x[:, None] > y[None, :]) + 0.5 * np.sum(x[:, None] == y[None, :])
        per_task.append(wins / (len(x) * len(y)))
    return float(np.mean(per_task))


def interval_estimates(
    scores: Mapping[str, np.ndarray], func: Callable, reps: int, seed: int
) -> dict[str, Estimate]:
    """rliable's interval estimates of ``func`` for each key, the bootstrap seeded by ``seed``."""
    with warnings.catch_warnings(), seeded_global_numpy(seed):
        warnings.simplefilter("ignore", FutureWarning)  # arch's notice about random_state
        points, intervals = library.get_interval_estimates(
            dict(scores), func, reps=reps, random_state=np.random.RandomState(seed)
        )
    return {
        key: Estimate(
            float(points[key][0]), float(intervals[key][0][0]), float(intervals[key][1][0])
        )
        for key in scores
    }
