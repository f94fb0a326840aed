"""``wnrl sweep``: its arguments, and the call into :mod:`wnrl.sweep`.

The library is imported when the command runs, not when the parser is built: ``wnrl --help``
stays fast (importing SB3 and torch takes seconds).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wnrl.cli.options import add_run_options, run_option_values
from wnrl.errors import ConfigError
from wnrl.names import BASELINE, NORMS
from wnrl.sweep import EXECUTORS


def _cmd_sweep(args: argparse.Namespace) -> int:
    from wnrl.experiment.presets import parse_overrides
    from wnrl.sweep.grid import parse_list, parse_seeds, plan_sweep
    from wnrl.sweep.ray_executor import ray_module
    from wnrl.sweep.run import run_sweep, summary

    if args.backend == "ray":
        ray_module()
    if args.address and args.backend != "ray":
        raise ConfigError("--address joins a Ray cluster: use it with --backend ray")
    sweep = plan_sweep(
        args.targets,
        agent=args.agent,
        norms=parse_list(args.norm, "--norm"),
        seeds=parse_seeds(args.seeds),
        logdir=args.logdir,
        preset=args.preset,
        steps=args.steps,
        hp=parse_overrides(args.hp),
        published=args.published,
        n_envs=args.n_envs,
        device=args.device,
        **run_option_values(args),
    )
    states = [cell.state for cell in sweep.cells]
    print(
        f"sweep {sweep.logdir}: {len(sweep.envs)} env(s) x {len(sweep.norms)} norm(s) x "
        f"{len(sweep.seeds)} seed(s) = {len(sweep.cells)} runs of {sweep.agent} "
        f"({states.count('finished')} finished before, {states.count('published')} published, "
        f"{states.count('resume')} to resume) "
        f"on the {args.backend} backend",
        flush=True,
    )
    for line in sweep.skipped_envs:
        print(f"  left out {line}")
    if args.dry_run:
        for cell in sweep.cells:
            print(f"  {cell.state:<9} {cell.run_dir}  ({cell.config['n_timesteps']:,} steps)")
        return 0
    report = run_sweep(
        sweep,
        backend=args.backend,
        max_parallel=args.max_parallel,
        cpus_per_run=args.cpus_per_run,
        gpus_per_run=args.gpus_per_run,
        address=args.address,
    )
    print(summary(report))
    if report.interrupted:
        print("wnrl: sweep interrupted; run the same command again to resume it", file=sys.stderr)
    elif not report.failed:
        print(f"compare: wnrl compare {sweep.logdir} --out {sweep.logdir / 'compare'}")
    return report.exit_code


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``wnrl sweep`` on an argparse subparsers object (``handler`` set)."""
    parser = subparsers.add_parser(
        "sweep",
        help="many training runs: env suites x norms x seeds, local processes or Ray",
        description="Train AGENT on every env x norm x seed (each a normal `wnrl train` run "
        "in <logdir>/<env>/<agent>-<norm>-s<seed>/). Re-running the same command skips "
        "finished runs and resumes interrupted ones. Exit code 0 when every run succeeded, "
        "1 when some failed.",
    )
    parser.add_argument(
        "targets", nargs="+", metavar="SUITE|ENV", help="env suites (wnrl list) or env ids"
    )
    parser.add_argument("--agent", default="dqn", help="dqn (default), qrdqn, ppo, a2c, sac, td3")
    parser.add_argument("--preset", help="preset of agents/AGENT.yaml (default: each env's family)")
    parser.add_argument(
        "--norm",
        default=f"{BASELINE},wn",
        help=f"comma list of {', '.join(NORMS)} (default none,wn)",
    )
    parser.add_argument(
        "--seeds", default="3", help="a count (3: seeds 0,1,2; the default) or a list (1,4,7)"
    )
    parser.add_argument("--steps", type=int, help="environment steps per run (default: preset's)")
    parser.add_argument("--logdir", help="sweep directory (default runs/sweep-<agent>-<targets>)")
    parser.add_argument(
        "--hp", nargs="+", default=[], metavar="KEY=VALUE", help="hyperparameter overrides"
    )
    parser.add_argument("--n-envs", type=int, help="parallel environments per run")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda[:N]")
    add_run_options(parser)
    parser.add_argument(
        "--backend", default="local", choices=EXECUTORS, help="where runs go (local)"
    )
    parser.add_argument("--address", help="Ray cluster address (default: start Ray in-process)")
    parser.add_argument(
        "--max-parallel", type=int, help="runs at a time (default: cores, or what Ray fits)"
    )
    parser.add_argument(
        "--cpus-per-run", type=int, help="torch threads / Ray CPUs per run (default: a share)"
    )
    parser.add_argument(
        "--gpus-per-run", type=float, help="Ray GPUs per run, e.g. 0.25 (default: an even share)"
    )
    parser.add_argument(
        "--published", metavar="DIR",
        help="a study's committed raw data (e.g. docs/results/<study>/runs): cells whose run is "
        "there, finished with the same configuration, are not run again (a new machine)",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="validate and list the runs only")
    parser.set_defaults(handler=_cmd_sweep)
    return parser
