"""The field's statistics for comparing normalizers, through ``rliable`` (Agarwal et al. 2021,
"Deep Reinforcement Learning at the Edge of the Statistical Precipice").

For each agent x norm, the score of every run on every env (a seeds x envs matrix) gives:

* per env, the interquartile mean (IQM: the mean of the middle 50% of runs) of the raw scores
  with a 95% stratified-bootstrap confidence interval;
* aggregated over envs, the IQM of the normalized scores ``(score - random) / (best - random)``
  (:data:`REFERENCE_SCORES`, else the lowest and highest score any run reached on that env)
  with its 95% CI;
* the probability of improvement ``P(X > Y)`` of each norm ``X`` over ``"none"`` (same agent),
  averaged over envs, with its CI;
* performance profiles: the fraction of runs above each normalized score ``tau``, drawn with
  rliable's plot.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rliable import library, metrics

from wnrl.analysis.reference_scores import MINATAR_RANDOM

#: (random policy, best reference) score per env, for normalization. Atari: random and human
#: scores of Mnih et al. (2015), Nature, extended data table 2. Classic control: a uniformly
#: random policy and the return of a solved task (the env's maximum, or the threshold it is
#: registered with in gymnasium). Envs not listed use the lowest and highest score of the runs.
REFERENCE_SCORES: dict[str, tuple[float, float]] = {
    "Breakout": (1.7, 31.8),
    "Enduro": (0.0, 860.5),
    "Seaquest": (68.4, 20182.0),
    "SpaceInvaders": (148.0, 1652.0),
    "Pong": (-20.7, 9.3),
    "CartPole": (22.0, 500.0),
    "Acrobot": (-500.0, -100.0),
    "MountainCar": (-200.0, -110.0),
    "Pendulum": (-1200.0, -150.0),
}

#: Envs with a known random score but no published best one (MinAtar: its DQN results are
#: published as curves only): normalized from the random score to the best score of the runs.
RANDOM_FLOORS: dict[str, float] = {
    f"MinAtar-{game}": score for game, score in MINATAR_RANDOM.items()
}

BASELINE = "none"


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% confidence interval."""

    value: float
    low: float
    high: float


@dataclass
class Statistics:
    """What :func:`compute` measured, keyed by ``(agent, norm)``."""

    envs: list[str]
    per_env: dict[tuple[str, str], dict[str, Estimate]]
    aggregate_iqm: dict[tuple[str, str], Estimate]
    improvement: dict[tuple[str, str], Estimate]  # P(norm > none), same agent
    normalized: dict[tuple[str, str], np.ndarray]  # seeds x envs, for the profiles
    runs: dict[tuple[str, str], int]  # runs per env in the aggregate matrix
    runs_per_env: dict[tuple[str, str], dict[str, int]]
    references: dict[str, tuple[float, float, str]]  # env: (random, best, source)


def _reference(
    game: str, observed: np.ndarray, known: Mapping[str, tuple[float, float]]
) -> tuple[float, float, str]:
    if game in known:
        low, high = known[game]
        return low, high, "reference"
    if game in RANDOM_FLOORS:
        low = RANDOM_FLOORS[game]
        return low, max(float(observed.max()), low + 1.0), "random, runs' best"
    low, high = float(observed.min()), float(observed.max())
    if high <= low:
        high = low + 1.0
    return low, high, "from the runs"


def _interval(scores: Mapping[str, np.ndarray], func, reps: int, seed: int) -> dict[str, Estimate]:
    with warnings.catch_warnings():  # arch's notice about rliable's random_state argument
        warnings.simplefilter("ignore", FutureWarning)
        points, intervals = library.get_interval_estimates(
            dict(scores), func, reps=reps, random_state=np.random.RandomState(seed)
        )
    return {
        key: Estimate(
            float(points[key][0]), float(intervals[key][0][0]), float(intervals[key][1][0])
        )
        for key in scores
    }


def compute(
    scores: Mapping[tuple[str, str, str], Sequence[float]],
    game_of: Mapping[str, str] | None = None,
    reps: int = 2000,
    seed: int = 0,
    references: Mapping[str, tuple[float, float]] | None = None,
) -> Statistics:
    """Statistics of ``scores``: ``(env, agent, norm) -> one score per run``.

    ``references``: (random, best) scores by game, added to (and overriding)
    :data:`REFERENCE_SCORES`.
    Per-env estimates use every run of that env. The aggregate and the probability of
    improvement need a runs x envs matrix per method: where the number of seeds differs
    between envs, each env contributes its first ``n`` runs (the fewest any env of that
    method has; ``Statistics.runs``).
    """
    game_of = dict(game_of or {})
    known = {**REFERENCE_SCORES, **(references or {})}
    envs = sorted({env for env, _, _ in scores})
    methods = sorted({(agent, norm) for _, agent, norm in scores})
    env_references = {}
    for env in envs:
        observed = np.concatenate(
            [np.asarray(v, float) for (e, _, _), v in scores.items() if e == env]
        )
        env_references[env] = _reference(game_of.get(env, env), observed, known)
    raw: dict[tuple[str, str], np.ndarray] = {}
    normalized: dict[tuple[str, str], np.ndarray] = {}
    method_envs: dict[tuple[str, str], list[str]] = {}
    for method in methods:
        present = [env for env in envs if (env, *method) in scores]
        n = min(len(scores[(env, *method)]) for env in present)
        matrix = np.array([list(scores[(env, *method)])[:n] for env in present], float).T
        raw[method], method_envs[method] = matrix, present
        lows = np.array([env_references[env][0] for env in present])
        highs = np.array([env_references[env][1] for env in present])
        normalized[method] = (matrix - lows) / (highs - lows)
    per_env: dict[tuple[str, str], dict[str, Estimate]] = {}
    for method in methods:  # per env: all of its runs
        columns = {
            env: np.asarray(scores[(env, *method)], float).reshape(-1, 1)
            for env in method_envs[method]
        }
        per_env[method] = _interval(
            columns, lambda x: np.array([metrics.aggregate_iqm(x)]), reps, seed
        )
    aggregate = _interval(
        {f"{a}\0{n}": normalized[(a, n)] for a, n in methods},
        lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps,
        seed,
    )
    improvement: dict[tuple[str, str], Estimate] = {}
    for agent, norm in methods:
        baseline = (agent, BASELINE)
        if norm == BASELINE or baseline not in raw:
            continue
        shared = [env for env in method_envs[(agent, norm)] if env in method_envs[baseline]]
        x = raw[(agent, norm)][:, [method_envs[(agent, norm)].index(e) for e in shared]]
        y = raw[baseline][:, [method_envs[baseline].index(e) for e in shared]]
        improvement[(agent, norm)] = _interval(
            {"pair": [x, y]},
            lambda a, b: np.array([metrics.probability_of_improvement(a, b)]),
            reps,
            seed,
        )["pair"]
    return Statistics(
        envs=envs,
        per_env=per_env,
        aggregate_iqm={method: aggregate[f"{method[0]}\0{method[1]}"] for method in methods},
        improvement=improvement,
        normalized=normalized,
        runs={method: raw[method].shape[0] for method in methods},
        runs_per_env={
            method: {env: len(scores[(env, *method)]) for env in method_envs[method]}
            for method in methods
        },
        references=env_references,
    )


def to_csv(stats: Statistics) -> str:
    """One row per estimate: env (or ``all``), agent, norm, runs, statistic, value, CI."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["env", "agent", "norm", "runs", "statistic", "value", "ci_low", "ci_high"])
    for (agent, norm), per_env in stats.per_env.items():
        for env, e in per_env.items():
            writer.writerow(
                [env, agent, norm, stats.runs[(agent, norm)], "iqm", e.value, e.low, e.high]
            )
    for (agent, norm), e in stats.aggregate_iqm.items():
        runs = stats.runs[(agent, norm)]
        writer.writerow(["all", agent, norm, runs, "iqm_normalized", e.value, e.low, e.high])
        better = stats.improvement.get((agent, norm))
        if better is not None:
            row = ["all", agent, norm, runs, "p_improvement_over_none"]
            writer.writerow([*row, better.value, better.low, better.high])
    return out.getvalue()


def _ci(estimate: Estimate, digits: int = 2) -> str:
    return f"{estimate.value:.{digits}f} [{estimate.low:.{digits}f}, {estimate.high:.{digits}f}]"


def markdown(stats: Statistics, score_name: str) -> str:
    """Per-env IQM table, aggregate IQM and probability of improvement, as Markdown."""
    lines = [
        f"IQM of the {score_name} score over runs, with 95% stratified-bootstrap confidence "
        "intervals (rliable):",
        "",
        "| env | agent | norm | runs | IQM [95% CI] |",
        "|---|---|---|---:|---|",
    ]
    for (agent, norm), per_env in stats.per_env.items():
        for env, estimate in per_env.items():
            lines.append(
                f"| {env} | {agent} | {norm} | {stats.runs[(agent, norm)]} | {_ci(estimate, 1)} |"
            )
    lines += [
        "",
        "Aggregate over envs (normalized: (score - random) / (best - random)) and the "
        f"probability that a run of the norm beats a run of `{BASELINE}` (same agent):",
        "",
        "| agent | norm | IQM normalized [95% CI] | P(norm > none) [95% CI] |",
        "|---|---|---|---|",
    ]
    for method, estimate in stats.aggregate_iqm.items():
        improvement = stats.improvement.get(method)
        lines.append(
            f"| {method[0]} | {method[1]} | {_ci(estimate)} | "
            f"{_ci(improvement) if improvement else '-'} |"
        )
    sources = ", ".join(
        f"{env} [{low:g}, {high:g}]{'' if source == 'reference' else f' ({source})'}"
        for env, (low, high, source) in stats.references.items()
    )
    lines += ["", f"Normalization (random, best): {sources}.", ""]
    return "\n".join(lines)


def plot_performance_profiles(stats: Statistics, path: Path) -> Path:
    """rliable's performance profiles (fraction of runs with normalized score > tau), one
    figure per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from rliable import plot_utils  # imports pyplot: after the Agg backend is chosen

    agents = sorted({agent for agent, _ in stats.normalized})
    figure, axes = plt.subplots(1, len(agents), figsize=(5 * len(agents), 3.6), squeeze=False)
    taus = np.linspace(-0.1, 1.1, 61)
    for ax, agent in zip(axes[0], agents, strict=True):
        methods = {norm: m for (a, norm), m in stats.normalized.items() if a == agent}
        profiles, cis = library.create_performance_profile(methods, taus, reps=200)
        colors = dict(zip(methods, plt.cm.tab10.colors, strict=False))
        plot_utils.plot_performance_profiles(
            profiles, taus, performance_profile_cis=cis, colors=colors,
            xlabel=r"normalized score $\tau$", ax=ax,
        )  # fmt: skip
        ax.set_title(agent)
        handles = [Line2D([0], [0], color=colors[norm], lw=2) for norm in methods]
        ax.legend(handles, list(methods), loc="lower left", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
