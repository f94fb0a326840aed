"""``wnrl compare``: learning curves and paper-style tables from run directories.

::

    wnrl compare runs/sweep-dqn-classic --out results/classic
    wnrl compare runs/sweep-dqn-atari-paper --out results/atari --paper

Runs are grouped by env x agent x norm (:mod:`wnrl.analysis.tables`); ``--metric eval`` (default)
reads the periodic evaluations of ``evaluations.csv`` (the paper's test protocol), ``--metric
train`` ``rollout/ep_rew_mean`` from the TensorBoard events (:mod:`wnrl.analysis.runs`). Writes
``<out>/<env>.png`` per env (:mod:`wnrl.analysis.plots`), ``results.md`` and ``results.csv``,
and the field's statistics of one score per run (:mod:`wnrl.analysis.statistics`).
``--paper`` adds the paper's DQN table, RL Zoo's 10M-step score of the row's agent and the MinAtar
paper's DQN score; with MinAtar DQN runs of the paper's games it also writes the paper's Atari
table beside their IQMs (:mod:`wnrl.analysis.paper_table`, ``paper_minatar.csv``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wnrl.analysis import paper_table, statistics
from wnrl.analysis.plots import plot_env, plot_performance_profiles
from wnrl.analysis.reporting import SCORE_NAMES
from wnrl.analysis.runs import ALL_SCORES, METRICS, SCORES, Run, load_runs, score_key
from wnrl.analysis.tables import Row, csv_table, group_runs, markdown_table, summarize
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.checkpoints import atomic_write_text


@dataclass
class Comparison:
    rows: list[Row]
    markdown: str
    figures: list[Path]
    table_md: Path
    table_csv: Path
    notes: list[str]


def run_scores(
    groups: dict[tuple[str, str, str], list[Run]], score: str = "final"
) -> dict[tuple[str, str, str], list[float]]:
    """``(env, agent, norm) -> one score per run`` (seed order), for the statistics."""
    measure = SCORES[score]
    return {key: [measure(run) for run in runs] for key, runs in groups.items()}


def score_statistics(
    groups: dict[tuple[str, str, str], list[Run]],
    scores: Sequence[str] = tuple(SCORE_NAMES),
    reps: int = 2000,
    seed: int = 0,
) -> dict[str, statistics.Statistics]:
    """The rliable statistics of each per-run score of ``scores`` (by default every score the
    reporting rules publish), every bootstrap seeded by ``seed``."""
    keys = {env: score_key(env) for env, _, _ in groups}
    return {
        name: statistics.compute(run_scores(groups, name), keys, reps=reps, seed=seed)
        for name in scores
    }


def compare(
    paths: Sequence[str | Path],
    out: str | Path,
    metric: str = "eval",
    paper: bool = False,
    score: str = ALL_SCORES,
    reps: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Read the runs under ``paths``; write ``<out>/<env>.png``, ``results.md``, ``results.csv``,
    and the rliable statistics of each run's ``score`` (``all``: the maximum, final and area
    under the curve, :data:`~wnrl.analysis.reporting.SCORE_NAMES`) in ``statistics.csv``, with
    the performance profiles of the first of them (``performance_profiles.png``); the Markdown
    also goes into results.md. ``seed`` seeds every bootstrap: the same runs give the same
    files."""

    if score != ALL_SCORES and score not in SCORES:
        choices = ", ".join([*SCORES, ALL_SCORES])
        raise ConfigError(f"unknown score {score!r}; choose one of {choices}")
    if reps < 100:
        raise ConfigError(f"--reps must be at least 100, got {reps}")
    scores = list(SCORE_NAMES) if score == ALL_SCORES else [score]
    runs, notes = load_runs(paths, metric)
    groups = group_runs(runs)
    rows = summarize(groups)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WnrlError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for env in dict.fromkeys(row.env for row in rows):
        figures.append(plot_env(env, groups, out / f"{env.replace('/', '-')}.png", metric, paper))
    for row in rows:
        notes += [f"{row.env} {row.agent}-{row.norm}: {note}" for note in row.notes]
    by_score = score_statistics(groups, scores, reps=reps, seed=seed)
    profiles = out / "performance_profiles.png"
    figures.append(plot_performance_profiles(by_score[scores[0]], profiles, SCORE_NAMES[scores[0]]))
    markdown = markdown_table(rows, metric, paper)
    for name, stats in by_score.items():
        markdown += "\n" + statistics.markdown(stats, SCORE_NAMES[name])
    atomic_write_text(out / "statistics.csv", statistics.to_csv(by_score))
    paper_score = "max" if "max" in by_score else scores[0]  # the paper's measure if reported
    paper_stats = by_score[paper_score]
    beside = paper_table.markdown(rows, paper_stats, SCORE_NAMES[paper_score]) if paper else ""
    if beside:
        markdown += "\n" + beside
        atomic_write_text(out / "paper_minatar.csv", paper_table.to_csv(rows, paper_stats))
    title = f"# wnrl compare: {METRICS[metric]}\n\n"
    sources = ""
    if paper:
        sources = (
            "\npaper: Salimans & Kingma (2016) sec. 5.4, maximum test score (DQN normal, "
            "DQN + weight norm, Mnih et al. 2015), the Atari game of the row's name (for a "
            "MinAtar row: the Atari original); RL Zoo: SB3 RL Zoo benchmark, NoFrameskip-v4, "
            "10M steps, one seed, the row's agent (Atari rows only); MinAtar DQN: Young & "
            "Tian (2019), the published DQN score of the MinAtar game.\n"
        )
    table_md = out / "results.md"
    table_csv = out / "results.csv"
    atomic_write_text(table_md, title + markdown + sources)
    atomic_write_text(table_csv, csv_table(rows, paper))
    return Comparison(rows, markdown, figures, table_md, table_csv, notes)
