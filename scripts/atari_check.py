"""Atari pipeline check (not a test gate): does PPO learn real Atari, with and without weight norm?

Trains PPO with RL Zoo's Atari settings (`agents/ppo.yaml` `atari` preset: 8 envs, a lost life
ends the learning episode) on each game for --steps steps, once per norm, through `wnrl sweep`
(so a re-run resumes interrupted runs and skips finished ones), then prints the training return
(`rollout/ep_rew_mean`: whole games, unclipped) at 250k, 500k, 750k and 1M steps and the final
evaluation, beside CleanRL's published PPO at 1M steps (its `ppo_atari` benchmark curves,
read at 1M: Breakout about 15 to 20, Pong about -9). Prints whatever it finds; its runs' raw
data are published from docs/results/atari-check (`scripts/results.py`).

    python scripts/atari_check.py [--games breakout,pong] [--steps 1000000] [--norms none,wn]

Ablations of weight norm's init run the same way into a folder of their own, e.g.
``--ddi-heads keep --logdir runs/atari-check-keep`` or ``--no-ddi --logdir runs/atari-check-noddi``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

# only the run readers' imports at module level: scripts/results.py imports them, and needs
# neither SB3 nor gymnasium; running the check imports the rest where it is used
from wnrl.experiment.rundir import EVALUATIONS, PROGRESS

GAMES = {"breakout": "BreakoutNoFrameskip-v4", "pong": "PongNoFrameskip-v4"}
#: CleanRL's ppo_atari training return at 1M steps, read from its benchmark curves
CLEANRL_AT_1M = {"BreakoutNoFrameskip-v4": "15 to 20", "PongNoFrameskip-v4": "about -9"}
TRAIN_TAG = "rollout/ep_rew_mean"
STEP_TAG = "time/total_timesteps"
MARKS = (250_000, 500_000, 750_000, 1_000_000)


def training_return_at(run_dir: Path, step: int) -> float | None:
    """The last training return logged at or before ``step`` (None until the run got there)."""
    path = run_dir / PROGRESS
    if not path.is_file():
        return None
    value, reached = None, 0.0
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if not row.get(STEP_TAG):
                continue
            reached = max(reached, float(row[STEP_TAG]))
            if row.get(TRAIN_TAG) and float(row[STEP_TAG]) <= step:
                value = float(row[TRAIN_TAG])
    # PPO logs every n_envs x n_steps (1,024) steps: a run past the mark has logged near it
    return value if reached >= step else None


def last_training_return(run_dir: Path) -> tuple[int, float]:
    """The last (step, training return) of ``progress.csv``."""
    last = (0, float("nan"))
    with open(run_dir / PROGRESS, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get(TRAIN_TAG) and row.get(STEP_TAG):
                last = (int(float(row[STEP_TAG])), float(row[TRAIN_TAG]))
    return last


def last_evaluation(run_dir: Path) -> tuple[int, float] | None:
    path = run_dir / EVALUATIONS
    if not path.is_file():
        return None
    rows = list(csv.DictReader(open(path, newline="")))
    return (int(float(rows[-1]["step"])), float(rows[-1]["mean"])) if rows else None


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report(logdir: Path, env_ids: list[str], norms: list[str], seed: int, steps: int) -> str:
    from wnrl.sweep.grid import cell_dir

    marks = [mark for mark in MARKS if mark <= steps]
    header = " | ".join(f"{mark // 1000}k" for mark in marks)
    lines = [
        f"PPO, RL Zoo Atari settings, seed {seed}: training return (whole games) at each step",
        "",
        f"| game | norm | {header} | evaluation (step) | CleanRL PPO at 1M |",
        f"|---|---|{'---:|' * len(marks)}---|---|",
    ]
    for env_id in env_ids:
        for norm in norms:
            run_dir = cell_dir(logdir, env_id, "ppo", norm, seed)
            values = " | ".join(_cell(training_return_at(run_dir, mark)) for mark in marks)
            evaluation = last_evaluation(run_dir)
            shown = "-" if evaluation is None else f"{evaluation[1]:.1f} ({evaluation[0]:,})"
            lines.append(
                f"| {env_id} | {norm} | {values} | {shown} | {CLEANRL_AT_1M.get(env_id, '-')} |"
            )
    return "\n".join(lines)


def main() -> int:
    from wnrl.cli.options import add_run_options, run_option_values
    from wnrl.envs import canonical_env_id
    from wnrl.sweep.grid import plan_sweep
    from wnrl.sweep.run import run_sweep

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", default="breakout", help="comma list: breakout, pong, ...")
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--norms", default="none,wn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs/atari-check")
    parser.add_argument("--max-parallel", type=int, help="runs at a time (default: cores)")
    parser.add_argument(
        "--cpus-per-run",
        type=int,
        help="torch threads per run (default: cores // runs at a time; give 1 when another "
        "check shares the cores)",
    )
    parser.add_argument("--report-only", action="store_true", help="print, train nothing")
    add_run_options(parser)
    args = parser.parse_args()
    env_ids = [GAMES.get(game, canonical_env_id(game)) for game in args.games.split(",")]
    norms = args.norms.split(",")
    logdir = Path(args.logdir)
    start = time.time()
    failed = 0
    if not args.report_only:
        sweep = plan_sweep(
            env_ids, agent="ppo", norms=norms, seeds=[args.seed], logdir=logdir,
            preset="atari", steps=args.steps,
            **run_option_values(args),
        )  # fmt: skip
        done = run_sweep(sweep, max_parallel=args.max_parallel, cpus_per_run=args.cpus_per_run)
        failed = len(done.failed)
    print(report(logdir, env_ids, norms, args.seed, args.steps))
    print(f"\n{(time.time() - start) / 60:.1f} min; runs in {logdir}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
