"""Runs grouped by env x agent x norm, summarized as the paper's table (Markdown and CSV).

Per group: the seeds, the steps reached and (mean +- std over seeds) the maximum evaluation score
(the paper's measure, sec. 5.4), the final score and the area under the curve per step.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wnrl.analysis.reference_scores import MINATAR_RANDOM, PAPER_DQN, RL_ZOO_10M
from wnrl.analysis.runs import Run, area_under_curve, game_name
from wnrl.envs.minatar import is_minatar_id
from wnrl.experiment.rundir import computed_settings
from wnrl.names import NORM_ORDER


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
        """The published scores of this row's game: the paper's DQN table (for a MinAtar row,
        of its Atari original), RL Zoo's 10M-step score (Atari rows), a random policy's score
        (MinAtar rows)."""
        game = game_name(self.env)
        dqn = PAPER_DQN.get(game)
        minatar = is_minatar_id(self.env)
        return {
            "paper_dqn": dqn[0] if dqn else None,
            "paper_dqn_wn": dqn[1] if dqn else None,
            "mnih2015": dqn[2] if dqn else None,
            "rlzoo_10m": None if minatar else RL_ZOO_10M.get(game, {}).get(self.agent),
            "minatar_random": MINATAR_RANDOM.get(game) if minatar else None,
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


def _group_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What the seeds of one group share: what a run computes, but its seed."""
    return {key: value for key, value in computed_settings(config).items() if key != "seed"}


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(key, b.get(key)) for key in set(a) | set(b) if a.get(key) != b.get(key)]


def summarize(groups: dict[tuple[str, str, str], list[Run]]) -> list[Row]:
    rows = []
    for (env, agent, norm), runs in groups.items():
        notes = []
        first = _group_settings(runs[0].config)
        differ = sorted(
            {
                key
                for run in runs[1:]
                for key, value in _differences(first, _group_settings(run.config))
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
        header += ["paper DQN", "paper DQN+WN", "Mnih 2015", "RL Zoo 10M", "random (MinAtar)"]
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
        fields += ["paper_dqn", "paper_dqn_wn", "mnih2015", "rlzoo_10m", "minatar_random"]
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
