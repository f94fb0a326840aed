"""The ``wnrl`` command line (also ``python -m wnrl``).

Every error a user can cause is printed as one line on stderr with exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wnrl import __version__
from wnrl.errors import WnrlError


def _cmd_demo(args: argparse.Namespace) -> int:
    from wnrl.demo import run_demo

    run_demo(args.env, n_samples=args.samples, head_scale=args.head_scale, seed=args.seed)
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except WnrlError as error:
        print(f"wnrl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wnrl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
