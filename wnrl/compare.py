"""``wnrl compare``: learning curves and paper-style tables from run directories.

::

    wnrl compare runs/sweep-dqn-classic --out results/classic
    wnrl compare runs/sweep-dqn-atari-paper --out results/atari --paper

* **Runs.** Every directory holding a ``config.yaml`` under the given paths (a run directory
  itself, a sweep directory, or any root such as ``runs``) is a run; runs are grouped by
  env x agent x norm, the seeds of a group are its runs.
* **Curves.** ``--metric eval`` (default): the periodic evaluations of ``evaluations.csv``
  (mean test score per evaluation, the paper's test protocol). ``--metric train``:
  ``rollout/ep_rew_mean`` from the TensorBoard events, read with TensorBoard's own
  ``EventAccumulator``. After a resume, the points of the restarted branch replace those the
  interrupted process logged past its checkpoint.
* **Figures.** ``<out>/<env>.png`` per env: one line per agent-norm, the mean over seeds with a
  band of +- one standard deviation (seeds interpolated onto the union of their steps), x in
  environment steps (bottom) and frames (top: x4 on Atari, frame skip 4).
* **Table.** ``<out>/results.md`` and ``results.csv`` (also printed): per env, agent and norm,
  the number of seeds, the steps reached, and (mean +- std over seeds, ``np.std``) the paper's
  measure: the maximum evaluation score (the max over evaluations of the mean test score,
  Salimans & Kingma 2016, sec. 5.4 table), the final score (last evaluation) and the area
  under the curve normalized by steps (the trapezoid integral divided by the steps it spans:
  the average score over training, which rewards learning early). ``--paper`` adds the paper's
  table (DQN normal, DQN + weight norm, Mnih et al. 2015) and RL Zoo's 10M-step score of the
  row's agent for the games they cover.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wnrl.errors import ConfigError, WnrlError

#: Salimans & Kingma (2016), "Weight Normalization", arXiv:1602.07868, sec. 5.4, table of the
#: maximum test score reached by DQN: (DQN normal, DQN + weight norm, Mnih et al. 2015).
#: Copied from ../shared/PAPER.md sec. 4.
PAPER_DQN: dict[str, tuple[float, float, float]] = {
    "Breakout": (410, 403, 401),
    "Enduro": (1250, 1448, 302),
    "Seaquest": (7188, 7375, 5286),
    "SpaceInvaders": (1779, 2179, 1975),
}
#: Stable-Baselines3 RL Zoo benchmark, Atari NoFrameskip-v4, 10M steps, one seed per game
#: (rl-baselines3-zoo benchmark.md). Copied from ../shared/PAPER.md sec. 5.
RL_ZOO_10M: dict[str, dict[str, float]] = {
    "Breakout": {"dqn": 358.3, "qrdqn": 393.6, "ppo": 398.0, "a2c": 279.8},
    "Pong": {"dqn": 20.60, "qrdqn": 20.49, "ppo": 20.99, "a2c": 17.29},
    "Enduro": {"dqn": 830.9, "qrdqn": 3231.2, "ppo": 996.4, "a2c": 0.0},
    "Seaquest": {"dqn": 2000.3, "qrdqn": 2557.6, "ppo": 1783.6, "a2c": 1721.5},
    "SpaceInvaders": {"dqn": 622.7, "qrdqn": 1899.9, "ppo": 960.3, "a2c": 627.2},
}
METRICS = {
    "eval": "evaluation score (mean test return)",
    "train": "training return (rollout/ep_rew_mean)",
}
TRAIN_TAG = "rollout/ep_rew_mean"
#: plotting and table order of the norms (the baseline first); colors fixed per norm
NORM_ORDER = ("none", "wn", "wn+mobn", "wn+proj", "ln", "bn")
NORM_COLORS = {
    "none": "tab:gray",
    "wn": "tab:blue",
    "wn+mobn": "tab:green",
    "wn+proj": "tab:purple",
    "ln": "tab:orange",
    "bn": "tab:red",
}
FIGSIZE = (8.0, 5.0)  # inches
DPI = 100  # -> 800 x 500 pixel PNGs
_NOT_IDENTITY = ("wnrl_version", "logdir", "device", "seed")


# --------------------------------------------------------------------------------------------
# Reading runs
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run directory and its learning curve (``steps`` ascending)."""

    run_dir: Path
    config: dict[str, Any]
    steps: np.ndarray
    values: np.ndarray
    frames_per_step: int = 1

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.config["env"], self.config["agent"], self.config["norm"])


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories (with a config.yaml) at or under ``paths``, sorted, no duplicates."""
    from wnrl.rundir import CONFIG

    if not paths:
        raise ConfigError("compare needs at least one run directory or root")
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise WnrlError(f"no such run directory or root: {path}")
        if (path / CONFIG).is_file():
            found[path.resolve()] = None
            continue
        for config in sorted(path.rglob(CONFIG)):
            if "checkpoints" not in config.parent.parts:
                found[config.parent.resolve()] = None
    return sorted(found)


def _keep_latest_branch(points: list[tuple[int, float]], new: list[tuple[int, float]]) -> None:
    """Append ``new`` (one process's points) to ``points``: a branch restarted at step s (a
    resume) replaces whatever the older process logged at steps >= s."""
    if not new:
        return
    start = min(step for step, _ in new)
    points[:] = [p for p in points if p[0] < start]
    points.extend(new)


def _as_curve(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    by_step = dict(sorted(points, key=lambda p: p[0]))  # one value per step: the last logged
    steps = np.array(sorted(by_step), dtype=np.int64)
    values = np.array([by_step[s] for s in steps], dtype=np.float64)
    return steps, values


def read_evaluations(run_dir: Path) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(steps, mean scores, frames per step) from ``evaluations.csv``; empty if none."""
    from wnrl.rundir import EVALUATIONS

    path = run_dir / EVALUATIONS
    points: list[tuple[int, float]] = []
    ratio = None
    if not path.is_file():
        return np.zeros(0, np.int64), np.zeros(0), None
    try:
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                step, mean = int(float(row["step"])), float(row["mean"])
                if points and step <= points[-1][0]:  # a resumed run starts again from here
                    points[:] = [p for p in points if p[0] < step]
                points.append((step, mean))
                if row.get("frames") and step > 0:
                    ratio = max(1, round(float(row["frames"]) / step))
    except (KeyError, ValueError, TypeError) as error:
        raise WnrlError(f"corrupt {path}: {type(error).__name__}: {error}") from error
    steps, values = _as_curve(points)
    return steps, values, ratio


def read_scalar(run_dir: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """One scalar of the run's TensorBoard events (all event files, resumes merged)."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    segments = []
    for path in run_dir.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(path), size_guidance={SCALARS: 0})  # 0: keep all
        accumulator.Reload()
        if tag not in accumulator.Tags().get("scalars", []):
            continue
        events = accumulator.Scalars(tag)
        if events:
            first = min(event.wall_time for event in events)
            segments.append((first, [(int(e.step), float(e.value)) for e in events]))
    points: list[tuple[int, float]] = []
    for _, segment in sorted(segments, key=lambda s: s[0]):
        _keep_latest_branch(points, segment)
    return _as_curve(points)


def _frames_per_step(env_id: str) -> int:
    from wnrl.envs import FRAME_SKIP, is_atari

    return FRAME_SKIP if is_atari(env_id) else 1


def load_runs(paths: Sequence[str | Path], metric: str = "eval") -> tuple[list[Run], list[str]]:
    """The runs under ``paths`` that have a curve for ``metric``, and notes on those left out."""
    from wnrl.rundir import CONFIG, read_config

    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; use {' or '.join(METRICS)}")
    runs, notes = [], []
    ratios: dict[str, int] = {}
    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        where = ", ".join(map(str, paths))
        raise WnrlError(f"no wnrl run directory (with a config.yaml) under {where}")
    for run_dir in run_dirs:
        try:
            config = read_config(run_dir / CONFIG, ("env", "agent", "norm", "seed"))
        except WnrlError as error:
            notes.append(f"left out {run_dir}: {error}")
            continue
        try:
            steps, values, ratio = read_evaluations(run_dir)
        except WnrlError as error:
            if metric == "eval":
                notes.append(f"left out {run_dir}: {error}")
                continue
            ratio = None  # the train curve does not need it
        if metric == "train":
            steps, values = read_scalar(run_dir, TRAIN_TAG)
        if len(steps) == 0:
            what = "evaluations.csv rows" if metric == "eval" else f"{TRAIN_TAG} in its events"
            notes.append(f"left out {run_dir}: no {what}")
            continue
        env = str(config["env"])
        if ratio is None:
            ratio = ratios.get(env) or _frames_per_step(env)
        ratios[env] = ratio
        runs.append(Run(run_dir, config, steps, values, ratio))
    if not runs:
        hint = (
            " (runs need --eval-every > 0, or use --metric train)"
            if metric == "eval"
            else " (no episode finished yet?)"
        )
        where = ", ".join(map(str, paths))
        raise WnrlError(f"none of the runs under {where} has a {metric} curve{hint}")
    return runs, notes


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def area_under_curve(steps: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid integral over steps divided by the steps it spans (the mean score over
    training); a single point is its own value."""
    if len(steps) == 1:
        return float(values[0])
    span = float(steps[-1] - steps[0])
    integral = float(np.sum((values[1:] + values[:-1]) / 2.0 * np.diff(steps)))
    return integral / span


def game_name(env_id: str) -> str:
    """``ALE/SpaceInvaders-v5``, ``SpaceInvadersNoFrameskip-v4`` -> ``SpaceInvaders``."""
    name = env_id.split("/")[-1]
    name = re.sub(r"-v\d+$", "", name)
    return re.sub(r"(NoFrameskip|Deterministic)$", "", name)


@dataclass
class Row:
    """One line of the table: an env x agent x norm group over its seeds."""

    env: str
    agent: str
    norm: str
    seeds: list[int]
    steps: int  # the steps every seed reached (the shortest run's last step)
    frames: int
    max_score: tuple[float, float]  # (mean, std) over seeds
    final_score: tuple[float, float]
    auc: tuple[float, float]
    notes: list[str] = field(default_factory=list)

    def paper(self) -> dict[str, float | None]:
        game = game_name(self.env)
        dqn = PAPER_DQN.get(game)
        return {
            "paper_dqn": dqn[0] if dqn else None,
            "paper_dqn_wn": dqn[1] if dqn else None,
            "mnih2015": dqn[2] if dqn else None,
            "rlzoo_10m": RL_ZOO_10M.get(game, {}).get(self.agent),
        }


def _mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


def _norm_rank(norm: str) -> tuple[int, str]:
    return (NORM_ORDER.index(norm) if norm in NORM_ORDER else len(NORM_ORDER), norm)


def group_runs(runs: Sequence[Run]) -> dict[tuple[str, str, str], list[Run]]:
    """env x agent x norm -> its runs (seeds), in table order."""
    groups: dict[tuple[str, str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault(run.key, []).append(run)
    order = sorted(groups, key=lambda k: (k[0], k[1], _norm_rank(k[2])))
    return {key: sorted(groups[key], key=lambda r: int(r.config["seed"])) for key in order}


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in _NOT_IDENTITY}


def summarize(groups: dict[tuple[str, str, str], list[Run]]) -> list[Row]:
    rows = []
    for (env, agent, norm), runs in groups.items():
        notes = []
        first = _identity(runs[0].config)
        differ = sorted(
            {
                key
                for run in runs[1:]
                for key in set(first) | set(run.config)
                if key not in _NOT_IDENTITY and run.config.get(key) != first.get(key)
            }
        )
        if differ:
            notes.append(f"its runs differ in {', '.join(differ)}")
        seeds = [int(run.config["seed"]) for run in runs]
        if len(set(seeds)) != len(seeds):
            notes.append("some seeds appear more than once")
        steps = min(int(run.steps[-1]) for run in runs)
        rows.append(
            Row(
                env=env,
                agent=agent,
                norm=norm,
                seeds=seeds,
                steps=steps,
                frames=steps * runs[0].frames_per_step,
                max_score=_mean_std([float(run.values.max()) for run in runs]),
                final_score=_mean_std([float(run.values[-1]) for run in runs]),
                auc=_mean_std([area_under_curve(run.steps, run.values) for run in runs]),
                notes=notes,
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:,.1f}"


def _fmt_ms(pair: tuple[float, float], n: int) -> str:
    return _fmt(pair[0]) if n < 2 else f"{_fmt(pair[0])} ± {_fmt(pair[1])}"


def markdown_table(rows: Sequence[Row], metric: str = "eval", paper: bool = False) -> str:
    best = "max eval score" if metric == "eval" else "max train return"
    header = ["env", "agent", "norm", "seeds", "steps", best, "final", "AUC / step"]
    if paper:
        header += ["paper DQN", "paper DQN+WN", "Mnih 2015", "RL Zoo 10M"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|",
    ]
    for row in rows:
        n = len(row.seeds)
        cells = [row.env, row.agent, row.norm, str(n), f"{row.steps:,}"]
        cells += [_fmt_ms(row.max_score, n), _fmt_ms(row.final_score, n), _fmt_ms(row.auc, n)]
        if paper:
            cells += [_fmt(value) for value in row.paper().values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[Row], paper: bool = False) -> str:
    fields = ["env", "agent", "norm", "seeds", "steps", "frames", "max_mean", "max_std"]
    fields += ["final_mean", "final_std", "auc_mean", "auc_std"]
    if paper:
        fields += ["paper_dqn", "paper_dqn_wn", "mnih2015", "rlzoo_10m"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record: dict[str, Any] = {
            "env": row.env,
            "agent": row.agent,
            "norm": row.norm,
            "seeds": len(row.seeds),
            "steps": row.steps,
            "frames": row.frames,
            "max_mean": row.max_score[0],
            "max_std": row.max_score[1],
            "final_mean": row.final_score[0],
            "final_std": row.final_score[1],
            "auc_mean": row.auc[0],
            "auc_std": row.auc[1],
        }
        if paper:
            record.update({k: "" if v is None else v for k, v in row.paper().items()})
        writer.writerow(record)
    return buffer.getvalue()


def mean_curve(runs: Sequence[Run]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, std, seeds counted) over seeds, each seed interpolated onto the union of
    the seeds' steps inside its own range (no extrapolation)."""
    grid = np.unique(np.concatenate([run.steps for run in runs]))
    stacked = np.full((len(runs), len(grid)), np.nan)
    for i, run in enumerate(runs):
        inside = (grid >= run.steps[0]) & (grid <= run.steps[-1])
        stacked[i, inside] = np.interp(grid[inside], run.steps, run.values)
    count = np.sum(~np.isnan(stacked), axis=0)
    mean = np.nanmean(stacked, axis=0)
    std = np.nanstd(stacked, axis=0)
    return grid, mean, std, count


def plot_env(
    env: str,
    groups: dict[tuple[str, str, str], list[Run]],
    path: Path,
    metric: str = "eval",
    paper: bool = False,
) -> Path:
    """The learning curves of one env: one line per agent-norm, a +-std band over seeds."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    try:
        agents = sorted({agent for (e, agent, _) in groups if e == env})
        styles = ["-", "--", ":", "-."]
        frames_per_step = 1
        for (e, agent, norm), runs in groups.items():
            if e != env:
                continue
            frames_per_step = runs[0].frames_per_step
            steps, mean, std, _ = mean_curve(runs)
            color = NORM_COLORS.get(norm)
            style = styles[agents.index(agent) % len(styles)]
            label = f"{agent} {norm} (n={len(runs)})"
            marker = "o" if len(steps) <= 60 else None
            axes.plot(steps, mean, style, color=color, label=label, marker=marker, markersize=2.5)
            axes.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        if paper:
            reference = PAPER_DQN.get(game_name(env))
            if reference is not None:
                axes.axhline(reference[0], color="tab:gray", ls="--", lw=0.8, label="paper DQN")
                axes.axhline(reference[1], color="tab:blue", ls="--", lw=0.8, label="paper DQN+WN")
        k = frames_per_step
        top = axes.secondary_xaxis("top", functions=(lambda s: s * k, lambda f: f / k))
        top.set_xlabel("frames" + (f" (frame skip {k})" if k > 1 else ""))
        axes.set_xlabel("environment steps")
        axes.set_ylabel(METRICS[metric])
        axes.set_title(env, pad=8)
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)  # no bbox_inches="tight": a fixed pixel size
    finally:
        plt.close(figure)
    return path


@dataclass
class Comparison:
    rows: list[Row]
    markdown: str
    figures: list[Path]
    table_md: Path
    table_csv: Path
    notes: list[str]


#: per-run score the statistics use: the last evaluation, the best one, or the area under the
#: curve per step (the average score over training)
SCORES = {
    "final": lambda run: float(run.values[-1]),
    "max": lambda run: float(run.values.max()),
    "auc": lambda run: area_under_curve(run.steps, run.values),
}


def run_scores(
    groups: dict[tuple[str, str, str], list[Run]], score: str = "final"
) -> dict[tuple[str, str, str], list[float]]:
    """``(env, agent, norm) -> one score per run`` (seed order), for :mod:`wnrl.statistics`."""
    measure = SCORES[score]
    return {key: [measure(run) for run in runs] for key, runs in groups.items()}


def compare(
    paths: Sequence[str | Path],
    out: str | Path,
    metric: str = "eval",
    paper: bool = False,
    score: str = "final",
    reps: int = 2000,
) -> Comparison:
    """Read the runs under ``paths``; write ``<out>/<env>.png``, ``results.md``, ``results.csv``,
    and the rliable statistics of the ``score`` of each run (``statistics.csv``,
    ``performance_profiles.png``; the Markdown also goes into results.md)."""
    from wnrl import statistics
    from wnrl.checkpoints import atomic_write_text

    if score not in SCORES:
        raise ConfigError(f"unknown score {score!r}; choose one of {', '.join(SCORES)}")
    if reps < 100:
        raise ConfigError(f"--reps must be at least 100, got {reps}")
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
    stats = statistics.compute(
        run_scores(groups, score), {row.env: game_name(row.env) for row in rows}, reps=reps
    )
    figures.append(statistics.plot_performance_profiles(stats, out / "performance_profiles.png"))
    markdown = markdown_table(rows, metric, paper) + "\n" + statistics.markdown(stats, score)
    atomic_write_text(out / "statistics.csv", statistics.to_csv(stats))
    title = f"# wnrl compare: {METRICS[metric]}\n\n"
    sources = ""
    if paper:
        sources = (
            "\npaper: Salimans & Kingma (2016) sec. 5.4, maximum test score (DQN normal, "
            "DQN + weight norm, Mnih et al. 2015); RL Zoo: SB3 RL Zoo benchmark, "
            "NoFrameskip-v4, 10M steps, one seed, the row's agent.\n"
        )
    table_md = out / "results.md"
    table_csv = out / "results.csv"
    atomic_write_text(table_md, title + markdown + sources)
    atomic_write_text(table_csv, csv_table(rows, paper))
    return Comparison(rows, markdown, figures, table_md, table_csv, notes)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _cmd_compare(args: argparse.Namespace) -> int:
    result = compare(
        args.paths, args.out, metric=args.metric, paper=args.paper, score=args.score,
        reps=args.reps,
    )  # fmt: skip
    for note in result.notes:
        print(f"wnrl compare: note: {note}", file=sys.stderr)
    print(result.markdown, end="")
    runs = sum(len(row.seeds) for row in result.rows)
    print(
        f"{runs} runs in {len(result.rows)} groups; figures: "
        f"{', '.join(str(p) for p in result.figures)}; tables: {result.table_md}, "
        f"{result.table_csv}"
    )
    return 0


def add_compare_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``wnrl compare`` on an argparse subparsers object (``handler`` set)."""
    parser = subparsers.add_parser(
        "compare",
        help="learning curves (PNG) and paper-style tables (Markdown, CSV) from runs",
        description="Find run directories under the given paths, group them by env x agent x "
        "norm (seeds averaged) and write <out>/<env>.png learning curves plus results.md and "
        "results.csv: the paper's maximum evaluation score, final score and area under the "
        "curve per group (mean ± std over seeds), then the field's statistics (rliable): IQM "
        "with 95% stratified-bootstrap CIs per env and aggregated, the probability of "
        "improvement of each norm over none, performance profiles. --paper adds the paper's "
        "and RL Zoo's published scores.",
    )
    parser.add_argument(
        "paths", nargs="+", metavar="RUN_DIR_OR_ROOT", help="run directories or roots"
    )
    parser.add_argument("--out", required=True, help="directory for the figures and tables")
    parser.add_argument(
        "--metric",
        default="eval",
        choices=tuple(METRICS),
        help="eval: evaluations.csv (default); train: rollout/ep_rew_mean from TensorBoard",
    )
    parser.add_argument(
        "--paper", action="store_true", help="add the paper's and RL Zoo's scores as columns"
    )
    parser.add_argument(
        "--score",
        default="final",
        choices=tuple(SCORES),
        help="the per-run score of the statistics (IQM, CIs, probability of improvement, "
        "performance profiles): final (last evaluation, default), max, auc",
    )
    parser.add_argument(
        "--reps", type=int, default=2000, help="bootstrap replications (default 2000)"
    )
    parser.set_defaults(handler=_cmd_compare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``wnrl compare`` on its own (``python -m wnrl.compare``): the CLI's messages and codes."""
    from wnrl.cli import subcommand_main

    return subcommand_main("compare", argv)


if __name__ == "__main__":
    raise SystemExit(main())
