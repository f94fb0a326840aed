"""The paper's Atari DQN table beside wnrl's MinAtar DQN runs of the same games.

Salimans & Kingma (sec. 5.4) report DQN with and without weight norm on four Atari games; three
of them have a MinAtar version (Breakout, Seaquest, Space Invaders). For each such game this
prints the paper's two scores and their ratio beside the IQM (95% stratified-bootstrap CI) of
wnrl's MinAtar runs per norm and the ratio of the weight-norm IQM to ``none``'s, plus a
random policy's score of the MinAtar game as the floor the ``none`` runs must clear (the MinAtar
paper publishes its DQN results only as curves, so there is no number to quote beside them).
The question the table answers is the paper's: does weight norm move DQN's score up, and by
about as much, at a scale this machine can run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from wnrl.analysis.reference_scores import MINATAR_RANDOM, PAPER_DQN
from wnrl.analysis.runs import game_name
from wnrl.analysis.statistics import Estimate, Statistics
from wnrl.analysis.tables import Row
from wnrl.envs.minatar import is_minatar_id
from wnrl.names import BASELINE

AGENT = "dqn"


def _ci(estimate: Estimate | None) -> str:
    if estimate is None:
        return "-"
    return f"{estimate.value:.2f} [{estimate.low:.2f}, {estimate.high:.2f}]"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def paper_rows(rows: Sequence[Row], stats: Statistics) -> list[dict[str, object]]:
    """One record per (MinAtar env of a paper game, norm) of the DQN runs."""
    records = []
    for row in rows:
        if row.agent != AGENT or not is_minatar_id(row.env):
            continue
        game = game_name(row.env)
        if game not in PAPER_DQN:
            continue
        normal, with_wn, _ = PAPER_DQN[game]
        own = stats.per_env.get((AGENT, row.norm), {}).get(row.env)
        base = stats.per_env.get((AGENT, BASELINE), {}).get(row.env)
        records.append(
            {
                "game": game,
                "env": row.env,
                "norm": row.norm,
                "runs": len(row.seeds),
                "steps": row.steps,
                "paper_dqn": normal,
                "paper_dqn_wn": with_wn,
                "paper_ratio": with_wn / normal,
                "iqm": own.value if own else None,
                "iqm_low": own.low if own else None,
                "iqm_high": own.high if own else None,
                "ratio_to_none": _ratio(own.value if own else None, base.value if base else None),
                "minatar_random": MINATAR_RANDOM.get(game),
                "_estimate": own,
            }
        )
    return records


def markdown(rows: Sequence[Row], stats: Statistics, score_name: str) -> str:
    """The side-by-side table, or an empty string when no MinAtar DQN runs of a paper game."""
    records = paper_rows(rows, stats)
    if not records:
        return ""
    lines = [
        f"The paper's Atari DQN table (max test score) beside wnrl's MinAtar DQN (IQM [95% CI] "
        f"over runs of the {score_name} score: the paper's measure is the maximum):",
        "",
        "| game | paper DQN | paper DQN+WN | paper WN/normal | MinAtar env | norm | runs | steps "
        "| IQM [95% CI] | IQM / none | random policy |",
        "|---|---:|---:|---:|---|---|---:|---:|---|---:|---|",
    ]
    for r in records:
        chance = "-" if r["minatar_random"] is None else f"{r['minatar_random']:g}"
        lines.append(
            f"| {r['game']} | {r['paper_dqn']:,} | {r['paper_dqn_wn']:,} | "
            f"{r['paper_ratio']:.2f}x | {r['env']} | {r['norm']} | {r['runs']} | "
            f"{r['steps']:,} | {_ci(r['_estimate'])} | {_fmt_ratio(r['ratio_to_none'])} | "  # type: ignore[arg-type]
            f"{chance} |"
        )
    lines += [
        "",
        "paper: Salimans & Kingma (2016) sec. 5.4 (Atari, 200M frames, maximum test score); "
        "random policy: the MinAtar game's mean score under uniformly random actions "
        "(scripts/minatar_random.py), the floor every norm must clear.",
        "",
    ]
    return "\n".join(lines)


def to_csv(rows: Sequence[Row], stats: Statistics) -> str:
    records = paper_rows(rows, stats)
    fields = [key for key in (records[0] if records else {}) if not key.startswith("_")]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return out.getvalue()
