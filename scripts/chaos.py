"""Reliability harness: real runs killed at random moments and resumed, and a memory soak.

Not a test gate: it prints one figure per promise, whatever they show.

* **Kills.** For each agent (DQN, PPO on CartPole-v1) and each signal (SIGKILL, SIGINT,
  SIGTERM), ``wnrl train`` is started as a real process, hit by the signal at a random moment,
  resumed with ``wnrl train --resume``, hit again, ... ``--kills`` times, then resumed to the
  end. Checked: every resume succeeded, the final step count, progress.csv in step order with no
  row twice, evaluations.csv with every evaluation step exactly once (no gap, no duplicate),
  TensorBoard curves that never fold back, and the steps lost per interruption (last step the
  killed process logged minus the step it was resumed from; at most one checkpoint interval
  for SIGKILL, zero for SIGINT / SIGTERM, which save a checkpoint).
* **Soak.** A DQN (CartPole-v1) and a SAC (Pendulum-v1) run with the resident memory of the
  process sampled every ``--soak-every`` steps; after warm-up (the replay buffer full) the
  growth is fitted by least squares and printed in MiB per 100k steps.

    python scripts/chaos.py [--kills 4] [--steps dqn=12000,ppo=60000]
                            [--checkpoint-every dqn=1500,ppo=7500]
                            [--soak-steps dqn=150000,sac=30000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIGNALS = {"KILL": signal.SIGKILL, "INT": signal.SIGINT, "TERM": signal.SIGTERM}
#: the exit code a run ends with after each signal (negative: killed by it)
EXPECTED_EXIT = {"KILL": -signal.SIGKILL, "INT": 130, "TERM": 143}
ENVS = {"dqn": "CartPole-v1", "ppo": "CartPole-v1", "sac": "Pendulum-v1"}
CHILD_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def wnrl(*args: str) -> list[str]:
    return [sys.executable, "-m", "wnrl", *args]


def rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def logged_steps(run_dir: Path) -> list[int]:
    steps = []
    for row in rows(run_dir / "progress.csv"):
        value = row.get("time/total_timesteps", "")
        if value:
            steps.append(int(float(value)))
    return steps


def interrupted_run(cmd: list[str], delay: float, signame: str) -> tuple[int, str]:
    """Run ``cmd``, send ``signame`` after ``delay`` seconds (if still running); exit code and
    output."""
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=CHILD_ENV
    )
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(SIGNALS[signame])
    output, _ = process.communicate(timeout=600)
    return process.returncode, output


def kill_campaign(
    agent: str, signame: str, args: argparse.Namespace, rng: random.Random, root: Path
) -> dict[str, object]:
    logdir = root / f"{agent}-{signame.lower()}"
    start = wnrl(
        "train", agent, ENVS[agent], "--steps", str(args.run_steps), "--seed", "0",
        "--checkpoint-every", str(args.interval), "--eval-every",
        str(args.interval), "--eval-episodes", "2", "--logdir", str(logdir),
    )  # fmt: skip
    lost: list[int] = []
    failures: list[str] = []
    interruptions, command, run_dir, last_logged = 0, start, None, None
    for attempt in range(args.kills + 1):
        if attempt < args.kills:
            code, output = interrupted_run(command, rng.uniform(*args.delay), signame)
        else:  # the last one runs to the end
            done = subprocess.run(
                command, capture_output=True, text=True, env=CHILD_ENV, timeout=1800
            )
            code, output = done.returncode, done.stdout + done.stderr
        resumed = re.search(r"resuming .* at step ([\d,]+)", output)
        if resumed and last_logged is not None:
            lost.append(max(0, last_logged - int(resumed.group(1).replace(",", ""))))
        if run_dir is None:
            found = [p for p in logdir.glob("*/*") if (p / "config.yaml").is_file()]
            if not found:  # stopped before its run directory existed: start again
                continue
            run_dir = found[0]
        if code == 0 or (run_dir / "model.zip").is_file():
            break  # finished (a signal that came after the final model does not count)
        if code != EXPECTED_EXIT[signame] or attempt == args.kills:
            tail = output.strip().splitlines()[-1:] if output.strip() else []
            failures.append(f"exit {code} (attempt {attempt}): {tail}")
        interruptions += 1
        last_logged = max(logged_steps(run_dir), default=0)
        command = wnrl("train", "--resume", str(run_dir))
    if run_dir is None:
        return {"agent": agent, "signal": signame, "interruptions": interruptions, "lost": lost,
                "failures": [*failures, "no run directory was created"], "final_step": 0,
                "model": False, "progress_ordered": False, "progress_duplicates": 0,
                "evaluations_ok": False, "tensorboard_folds": 0}  # fmt: skip
    return check_logs(run_dir, args) | {
        "agent": agent,
        "signal": signame,
        "interruptions": interruptions,
        "lost": lost,
        "failures": failures,
    }


def check_logs(run_dir: Path, args: argparse.Namespace) -> dict[str, object]:
    import logging

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # its purge notices

    from wnrl.experiment.checkpoints import checkpoint_step, latest_checkpoint

    steps = logged_steps(run_dir)
    table = [tuple(r.items()) for r in rows(run_dir / "progress.csv")]
    evaluations = [int(r["step"]) for r in rows(run_dir / "evaluations.csv")]
    expected = list(range(args.interval, args.run_steps + 1, args.interval))
    accumulator = EventAccumulator(str(run_dir))
    accumulator.Reload()
    folds = 0
    for tag in accumulator.Tags()["scalars"]:
        seen = [event.step for event in accumulator.Scalars(tag)]
        folds += sum(1 for a, b in zip(seen, seen[1:], strict=False) if b < a)
    checkpoint = latest_checkpoint(run_dir)
    return {
        "final_step": checkpoint_step(checkpoint) if checkpoint else 0,
        "model": (run_dir / "model.zip").is_file(),
        "progress_ordered": steps == sorted(steps),
        "progress_duplicates": len(table) - len(set(table)),
        # one evaluation in each interval [k C, (k+1) C): at the first step >= k C
        "evaluations_ok": [s // args.interval for s in evaluations if s <= args.run_steps]
        == [s // args.interval for s in expected]
        and evaluations == sorted(set(evaluations)),
        "tensorboard_folds": folds,
    }


SOAK_DRIVER = """
import csv, os, sys
from stable_baselines3.common.callbacks import BaseCallback
from wnrl.experiment.config import build_config
from wnrl.experiment.train import start_run

PAGE = os.sysconf("SC_PAGE_SIZE")

class SampleMemory(BaseCallback):
    def __init__(self, every, out):
        super().__init__()
        self.every, self.out = every, out
    def _on_step(self):
        if self.num_timesteps % self.every < self.model.n_envs:
            with open("/proc/self/statm") as handle:
                rss = int(handle.read().split()[1]) * PAGE
            with open(self.out, "a") as handle:
                handle.write(f"{self.num_timesteps},{rss}\\n")
        return True

agent, env, steps, every, buffer, out, logdir = sys.argv[1:8]
config = build_config(agent, env, steps=int(steps), seed=0, logdir=logdir,
                      hp={"buffer_size": int(buffer)})
start_run(config, progress="none", extra_callbacks=(SampleMemory(int(every), out),))
"""


def soak(agent: str, steps: int, args: argparse.Namespace, root: Path) -> dict[str, object]:
    buffer = args.soak_buffer[agent]
    out = root / f"soak-{agent}.csv"
    driver = root / "soak_driver.py"
    driver.write_text(SOAK_DRIVER)
    started = time.time()
    subprocess.run(
        [sys.executable, str(driver), agent, ENVS[agent], str(steps), str(args.soak_every),
         str(buffer), str(out), str(root / f"soak-{agent}-runs")],
        check=True, env=CHILD_ENV, capture_output=True, text=True,
    )  # fmt: skip
    samples = [tuple(map(int, line.split(","))) for line in out.read_text().split()]
    warm = [(s, r) for s, r in samples if s >= buffer + args.soak_every]
    slope = 0.0
    if len(warm) >= 3:
        xs, ys = [s for s, _ in warm], [r for _, r in warm]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
    return {
        "agent": agent,
        "steps": steps,
        "buffer": buffer,
        "samples": len(samples),
        "warm_samples": len(warm),
        "rss_start_mib": samples[0][1] / 2**20 if samples else 0.0,
        "rss_warm_mib": warm[0][1] / 2**20 if warm else 0.0,
        "rss_end_mib": samples[-1][1] / 2**20 if samples else 0.0,
        "growth_mib_per_100k": slope * 100_000 / 2**20,
        "minutes": (time.time() - started) / 60,
        "csv": str(out),
    }


def parse_pairs(text: str) -> dict[str, int]:
    return {k: int(v) for k, v in (item.split("=") for item in text.split(",") if item)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=4, help="interruptions per campaign")
    parser.add_argument("--agents", default="dqn,ppo")
    parser.add_argument("--signals", default="KILL,INT,TERM")
    parser.add_argument("--steps", default="dqn=12000,ppo=60000", help="per agent")
    parser.add_argument(
        "--checkpoint-every", default="dqn=1500,ppo=7500", help="per agent (also evaluations)"
    )
    parser.add_argument("--delay", type=float, nargs=2, default=(3.0, 9.0), metavar=("MIN", "MAX"))
    parser.add_argument("--soak-steps", default="dqn=150000,sac=30000", help="'' to skip")
    parser.add_argument("--soak-buffer", default="dqn=50000,sac=10000")
    parser.add_argument("--soak-every", type=int, default=2_500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    args.soak_buffer = parse_pairs(args.soak_buffer)
    steps, intervals = parse_pairs(args.steps), parse_pairs(args.checkpoint_every)
    rng = random.Random(args.seed)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="wnrl-chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"chaos: work directory {root}", flush=True)
    ok = True
    delays = f"{args.delay[0]:g}-{args.delay[1]:g} s"
    print(f"\nkills: steps {args.steps}, checkpoint and evaluation every {args.checkpoint_every},"
          f" {args.kills} interruptions per run, delays {delays}")  # fmt: skip
    header = "agent signal interrupted resumes_ok final_step logs_ok evals_ok tb_folds lost_max"
    print(header)
    for agent in filter(None, args.agents.split(",")):
        for signame in filter(None, args.signals.split(",")):
            args.run_steps, args.interval = steps[agent], intervals[agent]
            r = kill_campaign(agent, signame, args, rng, root)
            logs_ok = r["progress_ordered"] and r["progress_duplicates"] == 0
            lost_max = max(r["lost"], default=0)
            bound = args.interval if signame == "KILL" else 0
            good = (not r["failures"] and r["model"] and logs_ok and r["evaluations_ok"]
                    and r["tensorboard_folds"] == 0 and lost_max <= bound
                    and r["final_step"] >= args.run_steps)  # fmt: skip
            ok &= good
            print(f"{agent:<5} {signame:<6} {r['interruptions']:>11} "
                  f"{'yes' if not r['failures'] else 'NO':>10} {r['final_step']:>10,} "
                  f"{'yes' if logs_ok else 'NO':>7} {'yes' if r['evaluations_ok'] else 'NO':>8} "
                  f"{r['tensorboard_folds']:>8} {lost_max:>8,} (bound {bound:,})"
                  f"{'' if good else '  FAILED'}", flush=True)  # fmt: skip
            for failure in r["failures"]:
                print(f"      {failure}")
    soaks = parse_pairs(args.soak_steps)
    if soaks:
        print(f"\nsoak: resident memory every {args.soak_every:,} steps; growth after the "
              "replay buffer is full (least squares)")  # fmt: skip
        print("agent steps buffer rss_start rss_warm rss_end growth_per_100k minutes")
        for agent, steps in soaks.items():
            r = soak(agent, steps, args, root)
            print(f"{agent:<5} {r['steps']:>7,} {r['buffer']:>7,} {r['rss_start_mib']:>8.0f}M "
                  f"{r['rss_warm_mib']:>7.0f}M {r['rss_end_mib']:>6.0f}M "
                  f"{r['growth_mib_per_100k']:>+11.1f}M {r['minutes']:>7.1f}"
                  f"   ({r['warm_samples']} samples after warm-up)", flush=True)  # fmt: skip
    print(f"\nchaos: {'every promise held' if ok else 'SOME PROMISE FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
