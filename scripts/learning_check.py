"""Learning evidence (not a test gate): does weight norm change what DQN and PPO learn?

DQN and PPO on CartPole-v1 and Acrobot-v1, norms none / wn / wn+mobn, several seeds, fixed step
budgets (the agents' `classic` presets otherwise), run in parallel on the available cores with
`wnrl sweep`, then summarized with `wnrl compare`: per task, agent and norm, the mean and std
over seeds of the final evaluation return and of the area under the evaluation curve (per
step), and the paper's measure (maximum evaluation score), then the rliable statistics of the
final scores (IQM with 95% bootstrap CIs per task and aggregated, probability of improvement
over none, performance profiles). Prints the Markdown and writes it, with the figures, under
--out. Whatever it shows goes into the README.

    python scripts/learning_check.py [--seeds 5] [--dqn-steps 20000] [--ppo-steps 50000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from wnrl.compare import compare
from wnrl.sweep import plan_sweep, run_sweep

TASKS = ["CartPole-v1", "Acrobot-v1"]
NORMS = ["none", "wn", "wn+mobn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--dqn-steps", type=int, default=20_000)
    parser.add_argument("--ppo-steps", type=int, default=50_000)
    parser.add_argument("--evals", type=int, default=10, help="evaluations per run")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--logdir", default="runs/learning-check")
    parser.add_argument("--out", default="results/learning-check")
    parser.add_argument("--max-parallel", type=int, help="runs at a time (default: cores)")
    args = parser.parse_args()

    start = time.time()
    seeds = list(range(args.seeds))
    for agent, steps in (("dqn", args.dqn_steps), ("ppo", args.ppo_steps)):
        sweep = plan_sweep(
            TASKS,
            agent=agent,
            norms=NORMS,
            seeds=seeds,
            logdir=Path(args.logdir) / agent,
            steps=steps,
            eval_every=max(1, steps // args.evals),
            eval_episodes=args.eval_episodes,
            checkpoint_every=0,
        )
        report = run_sweep(sweep, max_parallel=args.max_parallel)
        if report.failed:
            raise SystemExit(f"{len(report.failed)} run(s) failed; see the logs in {args.logdir}")
    result = compare([args.logdir], out=args.out, metric="eval")
    print(result.markdown)
    minutes = (time.time() - start) / 60
    print(
        f"\n{len(seeds)} seeds, DQN {args.dqn_steps:,} / PPO {args.ppo_steps:,} steps, "
        f"{minutes:.1f} min; tables and figures in {args.out}"
    )


if __name__ == "__main__":
    main()
