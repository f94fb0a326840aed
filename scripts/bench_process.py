"""Benchmark: whole processes, as a user sees them. ``wnrl train`` against the same job written
the SB3 way (``scripts/sb3_reference.py``), and weight norm against ``none``, A B A B.

Each round runs every variant of a workload once, one after another, as a fresh process
(imports, start-up, env creation and saving all count) and times it from start to exit; the
ratio of a round is the reference's wall time over the variant's (above 1: faster than the
reference). Reports the median of the per-round ratios with their range, and each variant's
peak resident memory (the largest over its rounds).

Workloads (``--steps`` env steps each; Atari DQN's learning starts at step 1,000 on both sides
so that a short run trains):
  minatar-dqn   wnrl train dqn minatar-breakout (wn)  vs  sb3_reference.py minatar-dqn;
                and wnrl none
  atari-dqn     wnrl train dqn breakout (wn)          vs  sb3_reference.py atari-dqn; and none
  atari-ppo     wnrl train ppo breakout (wn, 8 envs)  vs  sb3_reference.py atari-ppo; and none

``--baseline DIR`` adds ``wnrl-base``: ``wnrl train`` (wn) from another checkout of wnrl (e.g.
``git worktree add /tmp/base <commit>``), run with ``PYTHONPATH=DIR``: before and after a
change, side by side.

    python scripts/bench_process.py minatar-dqn --steps 12000 --rounds 3 [--baseline /tmp/base]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
ATARI_DQN_LEARNING_STARTS = 1000

#: workload -> (wnrl agent, env, extra wnrl options, extra reference options, goal vs SB3)
WORKLOADS: dict[str, tuple[str, str, list[str], list[str], float]] = {
    "minatar-dqn": ("dqn", "minatar-breakout", [], [], 2.0),
    "atari-dqn": (
        "dqn",
        "breakout",
        ["--hp", f"learning_starts={ATARI_DQN_LEARNING_STARTS}"],
        ["--learning-starts", str(ATARI_DQN_LEARNING_STARTS)],
        1.6,
    ),
    "atari-ppo": ("ppo", "breakout", [], [], 2.0),
}
#: the goal of weight norm's price: WN at least this fraction of ``none``'s speed
WN_PRICE_GOAL = 0.97


def commands(workload: str, steps: int, logdir: Path, extra: list[str]) -> dict[str, list[str]]:
    """The command of each variant: ``sb3`` (the reference), ``wnrl-wn``, ``wnrl-none``."""
    agent, env, wnrl_extra, sb3_extra, _ = WORKLOADS[workload]
    common = ["--steps", str(steps), "--seed", "1"]
    wnrl = [sys.executable, "-m", "wnrl", "train", agent, env, *common, "--eval-every", "0"]
    wnrl += ["--checkpoint-every", "0", "--no-progress-bar", *wnrl_extra, *extra]
    reference = [sys.executable, str(SCRIPTS / "sb3_reference.py"), workload, *common, *sb3_extra]
    return {
        "sb3": [*reference, "--logdir", str(logdir / "sb3")],
        "wnrl-wn": [*wnrl, "--norm", "wn", "--logdir", str(logdir / "wn")],
        "wnrl-none": [*wnrl, "--norm", "none", "--logdir", str(logdir / "none")],
    }


def run_once(command: list[str], pythonpath: str | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one process; a failure ends the benchmark."""
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else None
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {shlex.join(command)}\n{stderr[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--steps", type=int, default=12_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--wnrl-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="extra option of both wnrl variants (repeatable), e.g. --wnrl-option=--hp",
    )
    parser.add_argument("--baseline", metavar="DIR", help="another wnrl checkout: wnrl-base")
    args = parser.parse_args()
    threads = os.environ.get("OMP_NUM_THREADS", "torch's default")
    print(f"{args.workload}: {args.steps:,} steps, {args.rounds} rounds, threads {threads}")
    with tempfile.TemporaryDirectory() as tmp:
        variants = commands(args.workload, args.steps, Path(tmp), args.wnrl_option)
        paths = dict.fromkeys(variants)
        if args.baseline:
            plain = commands(args.workload, args.steps, Path(tmp), [])["wnrl-wn"]
            variants["wnrl-base"] = [*plain[:-1], str(Path(tmp) / "base")]
            paths["wnrl-base"] = str(Path(args.baseline).resolve())
        for name, command in variants.items():
            print(f"  {name:<9} {shlex.join(command).replace(tmp, '$TMP')}")
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        memory: dict[str, float] = dict.fromkeys(variants, 0.0)
        for _ in range(args.rounds):
            for name, command in variants.items():
                wall, rss = run_once(command, paths[name])
                seconds[name].append(wall)
                memory[name] = max(memory[name], rss)
    for name, values in seconds.items():
        rounds = " ".join(f"{v:6.1f}" for v in values)
        rate = args.steps / statistics.median(values)
        print(
            f"  {name:<9} median {statistics.median(values):6.1f} s ({rate:5.0f} steps/s)"
            f"  peak RSS {memory[name]:6.0f} MiB   rounds: {rounds}"
        )
    pairs = [("wnrl-wn", "sb3", WORKLOADS[args.workload][4])]
    pairs.append(("wnrl-wn", "wnrl-none", WN_PRICE_GOAL))
    if args.baseline:
        pairs += [("wnrl-wn", "wnrl-base", None), ("wnrl-base", "sb3", None)]
    for variant, reference, goal in pairs:
        per_round = [r / v for v, r in zip(seconds[variant], seconds[reference], strict=True)]
        print(
            f"  {variant} vs {reference}: {statistics.median(per_round):.2f}x "
            f"(rounds {min(per_round):.2f}..{max(per_round):.2f}"
            + (f"; goal >= {goal})" if goal else ")")
        )


if __name__ == "__main__":
    main()
