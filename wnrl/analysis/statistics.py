"""The field's statistics for comparing normalizers, through ``rliable`` (Agarwal et al. 2021,
"Deep Reinforcement Learning at the Edge of the Statistical Precipice").

For each agent x norm, the score of every run on every env (a seeds x envs matrix) gives:

* per env, the interquartile mean (IQM: the mean of the middle 50% of runs) of the raw scores
  with a 95% stratified-bootstrap confidence interval;
* aggregated over envs, the IQM of the normalized scores ``(score - random) / (best - random)``
  with the fixed references of :mod:`wnrl.analysis.reference_scores` (an env without one is
  normalized by the range of the runs, and the Markdown says so: such an aggregate is not
  comparable across studies) with its 95% CI;
* the probability of improvement ``P(X > Y)`` of each norm ``X`` over ``"none"`` (same agent),
  averaged over envs, with its CI;
* performance profiles: the fraction of runs above each normalized score ``tau``, drawn with
  rliable's plot.

Every bootstrap draws from a generator seeded by the ``seed`` argument (default 0), so the same
runs give the same intervals, digit for digit (:mod:`wnrl.analysis.estimates`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from wnrl.analysis.estimates import Estimate, interval_estimates, iqm, probability_of_improvement
from wnrl.analysis.reference_scores import REFERENCES
from wnrl.analysis.reporting import ci, verdict
from wnrl.names import BASELINE

__all__ = ["Estimate", "Statistics", "compute", "markdown", "to_csv"]


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
    seed: int = 0  # of every bootstrap


#: the source label of a normalization taken from the runs themselves (no fixed reference)
FROM_THE_RUNS = "from the runs"


def _reference(
    game: str, observed: np.ndarray, known: Mapping[str, tuple[float, float]]
) -> tuple[float, float, str]:
    if game in known:
        low, high = known[game]
        return low, high, "reference"
    low, high = float(observed.min()), float(observed.max())
    if high <= low:
        high = low + 1.0
    return low, high, FROM_THE_RUNS


def compute(
    scores: Mapping[tuple[str, str, str], Sequence[float]],
    game_of: Mapping[str, str] | None = None,
    reps: int = 2000,
    seed: int = 0,
    references: Mapping[str, tuple[float, float]] | None = None,
) -> Statistics:
    """Statistics of ``scores``: ``(env, agent, norm) -> one score per run``.

    ``references``: (random, best) scores by game, added to (and overriding)
    :data:`~wnrl.analysis.reference_scores.REFERENCES`. ``seed`` seeds every bootstrap.
    Per-env estimates use every run of that env. The aggregate and the probability of
    improvement need a runs x envs matrix per method: where the number of seeds differs
    between envs, each env contributes its first ``n`` runs (the fewest any env of that
    method has; ``Statistics.runs``).
    """
    game_of = dict(game_of or {})
    known = {key: (ref.random, ref.best) for key, ref in REFERENCES.items()}
    known.update(references or {})
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
        per_env[method] = interval_estimates(columns, lambda x: np.array([iqm(x)]), reps, seed)
    aggregate = interval_estimates(
        {f"{a}\0{n}": normalized[(a, n)] for a, n in methods},
        lambda x: np.array([iqm(x)]),
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
        improvement[(agent, norm)] = interval_estimates(
            {"pair": [x, y]},
            lambda a, b: np.array([probability_of_improvement(a, b)]),
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
        seed=seed,
    )


CSV_FIELDS = ["score", "env", "agent", "norm", "runs", "statistic", "value", "ci_low", "ci_high"]


def to_csv(by_score: Mapping[str, Statistics]) -> str:
    """One row per estimate: the per-run score it is of, env (or ``all``), agent, norm, runs,
    statistic, value, CI."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for score, stats in by_score.items():
        for (agent, norm), per_env in stats.per_env.items():
            for env, e in per_env.items():
                runs = stats.runs_per_env[(agent, norm)][env]
                writer.writerow([score, env, agent, norm, runs, "iqm", e.value, e.low, e.high])
        for (agent, norm), e in stats.aggregate_iqm.items():
            runs = stats.runs[(agent, norm)]
            row = [score, "all", agent, norm, runs]
            writer.writerow([*row, "iqm_normalized", e.value, e.low, e.high])
            better = stats.improvement.get((agent, norm))
            if better is not None:
                row = [*row, "p_improvement_over_none"]
                writer.writerow([*row, better.value, better.low, better.high])
    return out.getvalue()


def markdown(stats: Statistics, score_name: str) -> str:
    """Per-env IQM table, aggregate IQM and probability of improvement with the reporting
    rules' verdict (:mod:`wnrl.analysis.reporting`), as Markdown."""
    lines = [
        f"IQM of the {score_name} over runs, with 95% stratified-bootstrap confidence "
        f"intervals (rliable, seed {stats.seed}):",
        "",
        "| env | agent | norm | runs | IQM [95% CI] |",
        "|---|---|---|---:|---|",
    ]
    for (agent, norm), per_env in stats.per_env.items():
        for env, estimate in per_env.items():
            runs = stats.runs_per_env[(agent, norm)][env]
            lines.append(f"| {env} | {agent} | {norm} | {runs} | {ci(estimate, 1)} |")
    lines += [
        "",
        "Aggregate over envs (normalized: (score - random) / (best - random)) and the "
        f"probability that a run of the norm beats a run of `{BASELINE}` (same agent):",
        "",
        "| agent | norm | IQM normalized [95% CI] | P(norm > none) [95% CI] | reading |",
        "|---|---|---|---|---|",
    ]
    for method, estimate in stats.aggregate_iqm.items():
        improvement = stats.improvement.get(method)
        reading = verdict(improvement, stats.runs[method]) if improvement else "-"
        lines.append(
            f"| {method[0]} | {method[1]} | {ci(estimate)} | "
            f"{ci(improvement) if improvement else '-'} | {reading} |"
        )
    sources = ", ".join(
        f"{env} [{low:g}, {high:g}]{'' if source == 'reference' else f' ({source})'}"
        for env, (low, high, source) in stats.references.items()
    )
    lines += ["", f"Normalization (random, best): {sources}."]
    if any(source == FROM_THE_RUNS for _, _, source in stats.references.values()):
        lines.append(
            "An env without a fixed reference is normalized by the range of these runs: its "
            "aggregate moves when the runs move and is not comparable across studies."
        )
    return "\n".join([*lines, ""])
