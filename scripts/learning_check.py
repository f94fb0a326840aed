"""Learning evidence (not a test gate): does weight norm change what the agents learn?

DQN, QR-DQN, PPO and A2C on CartPole-v1 and Acrobot-v1, SAC and TD3 on Pendulum-v1, each norm
(default none / wn / wn+mobn / wn+proj, wnrl's defaults otherwise: the agents' `classic` and
`continuous` presets, plain output heads, the data-dependent init where the preset runs it:
DQN, QR-DQN, SAC, TD3, not PPO and A2C), several seeds, fixed step
budgets, run in parallel on the available cores with `wnrl sweep`, then summarized with
`wnrl compare`: per task, agent and norm, the mean and std over seeds of the final evaluation
return, the area under the evaluation curve and the paper's measure (maximum evaluation score),
then the rliable statistics of the final scores (IQM with 95% stratified-bootstrap CIs per
task and aggregated, probability of improvement over none, performance profiles).

With `--identity`, PPO and A2C also train on SB3's identity envs at SB3's own test settings
(`scripts/identity_check.py`) and their scores get the same statistics.

Re-running with the same --logdir skips the runs that finished, so agents and norms can be
added in several calls. Prints the Markdown and writes it, with the figures, under --out.
Whatever it shows is published: its runs' raw data go to docs/results/learning-check
(`scripts/results.py collect`) and `scripts/results.py` makes the tables.

    python scripts/learning_check.py [--agents dqn,qrdqn,ppo,a2c,sac,td3]
        [--norms none,wn,wn+mobn,wn+proj] [--seeds 5] [--identity]

Ablations go to a logdir of their own (a run directory holds one configuration) and are
compared with the `none` runs of a finished learning check (``--baseline``), e.g.
``--no-ddi --logdir runs/learning-check-noddi --out results/learning-check-noddi`` or
``--agents ppo --norms wn --hp policy_kwargs.gain_lr_scale=0 --logdir runs/abl/gain-0
--baseline runs/learning-check --out results/gain-0``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from pathlib import Path

from identity_check import ENVS as IDENTITY_ENVS
from identity_check import run as identity_run

from wnrl.analysis import statistics
from wnrl.analysis.compare import compare
from wnrl.experiment.config import build_config
from wnrl.experiment.presets import parse_overrides
from wnrl.names import DDI_HEADS, REFUSED_NORMS, norm_refusal
from wnrl.sweep.grid import plan_sweep
from wnrl.sweep.run import run_sweep

CLASSIC = ["CartPole-v1", "Acrobot-v1"]
CONTINUOUS = ["Pendulum-v1"]
#: agent -> (envs, steps, hyperparameter overrides of its preset)
BUDGETS: dict[str, tuple[list[str], int, dict]] = {
    "dqn": (CLASSIC, 20_000, {}),
    "qrdqn": (CLASSIC, 20_000, {}),
    "ppo": (CLASSIC, 50_000, {}),
    "a2c": (CLASSIC, 50_000, {}),
    "sac": (CONTINUOUS, 10_000, {}),
    # RL Zoo's TD3 starts learning at 10k steps of its 20k; half the budget, learning from 1k
    "td3": (CONTINUOUS, 10_000, {"learning_starts": 1_000}),
}


def _identity_cell(
    cell: tuple[str, str, str, int, int, bool],
) -> tuple[str, str, str, int, float]:
    algo, env_name, norm, seed, steps, ddi = cell
    score = identity_run(algo, env_name, norm, ddi, seed, steps)
    return f"Identity-{env_name}", algo, norm, seed, score


def default_ddi(agent: str, norm: str) -> bool:
    """Whether `wnrl train` runs the data-dependent init for this agent and norm on a classic
    env (its ``classic`` preset decides: PPO and A2C do not)."""
    return bool(build_config(agent, "CartPole-v1", norm=norm)["ddi"])


def identity_statistics(
    norms: list[str], seeds: int, steps: int, processes: int, out: Path, no_ddi: bool = False
) -> str:
    """PPO and A2C on SB3's identity envs, with the init where `wnrl train` would run it (or
    never, with ``no_ddi``): IQM and CIs. Every run's score goes to ``out/identity_scores.csv``
    (the raw data of the table)."""
    cells = [
        (algo, env, norm, seed, steps, not no_ddi and default_ddi(algo, norm))
        for algo in ("ppo", "a2c")
        for env in IDENTITY_ENVS
        for norm in norms
        if norm not in REFUSED_NORMS.get(algo, ())
        for seed in range(seeds)
    ]
    scores: dict[tuple[str, str, str], list[float]] = {}
    rows = ["env,agent,norm,seed,steps,score"]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for env, algo, norm, seed, score in pool.imap(_identity_cell, cells):
            scores.setdefault((env, algo, norm), []).append(score)
            rows.append(f"{env},{algo},{norm},{seed},{steps},{score!r}")
    out.mkdir(parents=True, exist_ok=True)
    Path(out, "identity_scores.csv").write_text("\n".join(rows) + "\n")
    stats = statistics.compute(scores)  # references: wnrl.analysis.reference_scores
    return (
        f"SB3's identity envs ({steps:,} steps, gamma 0.4, mean of 20 episodes, "
        "scores 0 to 100; SB3 asks for 90):\n\n" + statistics.markdown(stats, "evaluation")
    )


def baseline_runs(logdir: str, agents: list[str]) -> list[Path]:
    """The `none` run directories of ``agents`` in a learning check's ``logdir``."""
    runs = [
        path
        for agent in agents
        for path in sorted(Path(logdir, agent).glob(f"*/{agent}-none-s*"))
        if path.is_dir()
    ]
    if not runs:
        raise SystemExit(f"--baseline {logdir}: no `none` runs of {', '.join(agents)} there")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", default=",".join(BUDGETS))
    parser.add_argument("--norms", default="none,wn,wn+mobn,wn+proj")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evals", type=int, default=10, help="evaluations per run")
    parser.add_argument("--eval-episodes", type=int, default=5)
    parser.add_argument("--identity", action="store_true", help="also SB3's identity envs")
    parser.add_argument("--identity-steps", type=int, default=10_000, help="SB3's: 10,000")
    parser.add_argument("--logdir", default="runs/learning-check")
    parser.add_argument("--out", default="results/learning-check")
    parser.add_argument("--max-parallel", type=int, help="runs at a time (default: cores)")
    parser.add_argument(
        "--cpus-per-run", type=int, help="torch threads per run (default: cores // parallel)"
    )
    parser.add_argument("--no-ddi", action="store_true", help="train without the init (ablation)")
    parser.add_argument("--ddi-heads", choices=DDI_HEADS, default=DDI_HEADS[0])
    parser.add_argument(
        "--hp", nargs="+", default=[], metavar="KEY=VALUE",
        help="overrides for every run, as wnrl train's --hp (an ablation: use its own --logdir)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", metavar="LOGDIR",
        help="a finished learning check whose `none` runs the report compares against",
    )  # fmt: skip
    args = parser.parse_args()
    overrides = parse_overrides(args.hp)

    start = time.time()
    seeds = list(range(args.seeds))
    norms = args.norms.split(",")
    agents = [agent for agent in args.agents.split(",") if agent]
    for agent in agents:
        envs, steps, hp = BUDGETS[agent]
        refused = [norm for norm in norms if norm in REFUSED_NORMS.get(agent, ())]
        if refused:
            print(f"{agent}: skipping {norm_refusal((agent,), refused[0])}")
        sweep = plan_sweep(
            envs,
            agent=agent,
            norms=[norm for norm in norms if norm not in refused],
            seeds=seeds,
            logdir=Path(args.logdir) / agent,
            steps=steps,
            hp={**hp, **overrides},  # the budgets' overrides are flat (no policy_kwargs)
            eval_every=max(1, steps // args.evals),
            eval_episodes=args.eval_episodes,
            checkpoint_every=0,
            ddi=False if args.no_ddi else None,
            ddi_heads=args.ddi_heads,
        )
        report = run_sweep(sweep, max_parallel=args.max_parallel, cpus_per_run=args.cpus_per_run)
        if report.failed:
            raise SystemExit(f"{len(report.failed)} run(s) failed; see the logs in {args.logdir}")
    if agents:
        baseline = baseline_runs(args.baseline, agents) if args.baseline else []
        result = compare([args.logdir, *baseline], out=args.out, metric="eval")
        print(result.markdown)
    if args.identity:
        processes = args.max_parallel or multiprocessing.cpu_count()
        identity = identity_statistics(
            norms, args.seeds, args.identity_steps, processes, Path(args.out), no_ddi=args.no_ddi
        )
        Path(args.out, "identity.md").write_text(identity)
        print(identity)
    budgets = ", ".join(f"{agent} {BUDGETS[agent][1]:,}" for agent in agents) or "-"
    minutes = (time.time() - start) / 60
    print(
        f"\n{len(seeds)} seeds, steps: {budgets}; {minutes:.1f} min; "
        f"tables and figures in {args.out}"
    )


if __name__ == "__main__":
    main()
