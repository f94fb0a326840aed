"""The ``wnrl`` parser and dispatch, and the ``demo``, ``train``, ``evaluate``, ``list`` commands.

Every error a user can cause is printed as one line on stderr with exit code 2, never a
traceback. Handlers import the library when they run, so ``wnrl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from wnrl import __version__
from wnrl.cli.options import add_run_options, run_option_values
from wnrl.errors import RunFailed, WnrlError, one_line
from wnrl.experiment.rundir import CONFIG, FINAL_MODEL, read_config
from wnrl.experiment.stop_signals import exit_code
from wnrl.names import AGENTS, NORMS, REFUSED_NORMS


def _cmd_demo(args: argparse.Namespace) -> int:
    from wnrl.experiment.demo import run_demo

    run_demo(args.env, n_samples=args.samples, head_scale=args.head_scale, seed=args.seed)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from wnrl.analysis.run_summary import run_summary
    from wnrl.experiment.config import build_config, run_dir_for
    from wnrl.experiment.presets import parse_overrides
    from wnrl.experiment.train import resume_run, start_run

    progress = "lines" if args.no_progress_bar else "auto"
    if args.old_backend is not None:
        raise WnrlError(
            "--backend is `wnrl sweep`'s executor (local, ray); the Atari env backend of a run "
            f"is --env-backend (--env-backend {args.old_backend})"
        )
    if args.resume is not None:
        if args.agent is not None or args.env is not None:
            raise WnrlError("--resume takes the agent and env from the run; give neither")
        result = resume_run(
            Path(args.resume), args.steps, args.device, progress=progress,
            compile_optimizer=args.compile_optimizer,
        )  # fmt: skip
    else:
        if args.agent is None or args.env is None:
            raise WnrlError("train needs AGENT and ENV (or --resume RUN_DIR)")
        config = build_config(
            args.agent,
            args.env,
            norm=args.norm,
            preset=args.preset,
            steps=args.steps,
            seed=args.seed,
            n_envs=args.n_envs,
            device=args.device or "auto",
            logdir=args.logdir,
            hp=parse_overrides(args.hp),
            **run_option_values(args),
        )
        run_dir = run_dir_for(config)  # the real name, printed before training starts
        print(f"run directory: {run_dir}", flush=True)
        result = start_run(config, progress=progress, run_dir=run_dir)
    if result.status == "interrupted":
        print(
            f"wnrl: {result.signal_name} at step {result.num_timesteps:,}: checkpoint saved; "
            f"resume with: wnrl train --resume {result.run_dir}",
            file=sys.stderr,
        )
        return exit_code(result.signal_name)
    print(f"finished {result.num_timesteps:,} steps: {result.run_dir / FINAL_MODEL}")
    print(run_summary(result.run_dir, read_config(result.run_dir / CONFIG), result.evaluations))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from wnrl.experiment.evaluate import evaluate_model, evaluation_env, format_result
    from wnrl.experiment.find_models import load_for_evaluation
    from wnrl.experiment.video import record_video, require_moviepy

    if args.video:
        require_moviepy()  # before any work: a missing extra is a one-line error
    model, config = load_for_evaluation(
        args.target, env_id=args.env, device=args.device, weights_only=args.weights_only
    )
    env = evaluation_env(
        config["env"],
        n_envs=min(args.episodes, args.n_envs),
        seed=args.seed,
        backend=config.get("backend", "auto"),
        **config.get("env_kwargs", {}),
    )
    try:
        result = evaluate_model(
            model, env, n_episodes=args.episodes, epsilon=args.epsilon, seed=args.seed
        )
    finally:
        env.close()
    epsilon = "protocol default" if args.epsilon is None else args.epsilon
    print(format_result(result, f"{config['env']} (epsilon {epsilon})"))
    if args.video:
        record_video(
            model,
            config["env"],
            args.video,
            epsilon=args.epsilon,
            seed=args.seed,
            env_kwargs=config.get("env_kwargs", {}),
        )
        print(f"video: {args.video}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from wnrl.experiment.presets import ALGORITHMS, agent_presets, check_agent, suite, suite_names
    from wnrl.nn.norms import NORM_DESCRIPTIONS

    agents = [check_agent(args.agent)] if args.agent else list(ALGORITHMS)
    print("agents and presets:")
    for agent in agents:
        print(f"  {agent} ({ALGORITHMS[agent].__name__})")
        for name, preset in agent_presets(agent).items():
            steps = f"{preset['n_timesteps']:,} steps"
            text = " ".join(preset.get("description", "").split())
            summary = text if len(text) <= 72 else text[:69] + "..."
            print(f"    {name:<11} [{preset['family']}, {steps}] {summary}")
            if args.agent:
                for key, value in (preset.get("hyperparams") or {}).items():
                    print(f"        {key}: {value}")
    print("norms:")
    for norm, text in NORM_DESCRIPTIONS.items():
        refusing = [agent for agent in AGENTS if norm in REFUSED_NORMS.get(agent, ())]
        print(f"  {norm:<8} {text}" + (f" (not for {', '.join(refusing)})" if refusing else ""))
    print("env suites:")
    for name in suite_names():
        data = suite(name)
        envs = data["envs"]
        shown = ", ".join(envs[:5]) + (f", ... ({len(envs)} games)" if len(envs) > 5 else "")
        print(f"  {name:<12} {shown}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wnrl",
        description="Weight-normalized deep RL agents for Stable-Baselines3 "
        "(Salimans & Kingma, 2016).",
    )
    parser.add_argument("--version", action="version", version=f"wnrl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="data-dependent init of a WN Q-network on real Atari frames; prints layer stats",
        description="Build the paper's weight-normalized DQN network, run the data-dependent "
        "initialization (paper sec. 3) on a batch of real frames and print per-layer statistics.",
    )
    demo.add_argument("--env", default="ALE/Breakout-v5", help="Atari game (default: Breakout)")
    demo.add_argument("--samples", type=int, default=256, help="init batch size (default 256)")
    demo.add_argument(
        "--head-scale", type=float, default=1.0, help="init_scale of the Q head (default 1.0)"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_cmd_demo)

    train = commands.add_parser(
        "train",
        help="train an agent (presets, TensorBoard, evaluations, checkpoints, resume)",
        description="Train AGENT on ENV with a weight-normalized (or comparison) network. With "
        "no options beyond AGENT and ENV it uses the preset's full budget. Writes one run "
        "directory: config.yaml, TensorBoard events, evaluations.csv, checkpoints/, model.zip.",
    )
    train.add_argument("agent", nargs="?", help=", ".join(AGENTS))
    train.add_argument("env", nargs="?", help="gymnasium id or Atari game (ALE/Breakout-v5, pong)")
    train.add_argument("--norm", default=NORMS[0], help=f"{', '.join(NORMS)} (default {NORMS[0]})")
    train.add_argument("--preset", help="preset of agents/AGENT.yaml (default: the env's family)")
    train.add_argument("--steps", type=int, help="environment steps (default: the preset's)")
    train.add_argument("--seed", type=int, help="random seed (default: random, recorded)")
    train.add_argument("--n-envs", type=int, help="parallel environments (default: preset's)")
    train.add_argument("--device", help="auto (default), cpu or cuda[:N]")
    train.add_argument("--logdir", default="runs", help="root of run directories (default runs)")
    train.add_argument(
        "--hp",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override hyperparameters, e.g. learning_rate=3e-4 policy_kwargs.net_arch=[64,64]",
    )
    add_run_options(train)
    train.add_argument("--backend", dest="old_backend", help=argparse.SUPPRESS)  # refused
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.add_argument(
        "--no-progress-bar", action="store_true", help="plain progress lines, even on a terminal"
    )
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="test scores of a run or model (DQN protocol: epsilon-greedy 0.05, no-op starts)",
        description="Evaluate a run directory (its final model, else its latest checkpoint) or a "
        "model file: prints mean, std, max and min of the real game score; --video records one "
        "episode (needs the video extra: pip install 'wnrl[video]').",
    )
    evaluate.add_argument("target", metavar="RUN_DIR|MODEL.zip")
    evaluate.add_argument("--episodes", type=int, default=30, help="episodes (default 30)")
    evaluate.add_argument(
        "--epsilon", type=float, default=None, help="random-action rate (default 0.05 on Atari)"
    )
    evaluate.add_argument("--video", metavar="FILE.mp4", help="also record one episode")
    evaluate.add_argument("--env", help="env id, for a model file without config.yaml beside it")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--n-envs", type=int, default=4, help="parallel envs (default 4)")
    evaluate.add_argument("--device", default="auto")
    evaluate.add_argument(
        "--weights-only", action="store_true", help="never unpickle the file (untrusted models)"
    )
    evaluate.set_defaults(handler=_cmd_evaluate)

    listing = commands.add_parser("list", help="agents, presets, norms and env suites")
    listing.add_argument("--agent", help="also show this agent's hyperparameters")
    listing.set_defaults(handler=_cmd_list)

    from wnrl.cli.compare import add_compare_parser
    from wnrl.cli.sweep import add_sweep_parser

    add_sweep_parser(commands)
    add_compare_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except RunFailed as error:  # a run that started and could not go on
        print(f"wnrl: error: {one_line(error)}", file=sys.stderr)
        return 1
    except WnrlError as error:
        print(f"wnrl: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wnrl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `wnrl list | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # a defect in wnrl (or its dependencies), not the user's input
        traceback.print_exc()
        print(
            f"wnrl: internal error (a bug, not your input; please report it with the "
            f"traceback above): {type(error).__name__}: {one_line(error)}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
