"""``wnrl compare``: its arguments, and the call into :mod:`wnrl.analysis.compare`.

The statistics (rliable) and plotting libraries are imported when the command runs, not when
the parser is built: ``wnrl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wnrl.analysis.runs import ALL_SCORES, METRICS, SCORES


def _cmd_compare(args: argparse.Namespace) -> int:
    from wnrl.analysis.compare import compare

    result = compare(
        args.paths, args.out, metric=args.metric, paper=args.paper, score=args.score,
        reps=args.reps, seed=args.seed,
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
        default=ALL_SCORES,
        choices=(*SCORES, ALL_SCORES),
        help="the per-run score of the statistics (IQM, CIs, probability of improvement): "
        "max (the paper's measure), final (last evaluation), auc (area under the curve per "
        "step), or all three (default); the performance profiles use the first",
    )
    parser.add_argument(
        "--reps", type=int, default=2000, help="bootstrap replications (default 2000)"
    )
    parser.add_argument(
        "--seed", type=int, default=0,
        help="seed of every bootstrap (default 0): the same runs give the same statistics",
    )  # fmt: skip
    parser.set_defaults(handler=_cmd_compare)
    return parser
