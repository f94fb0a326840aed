"""Command-line options shared by ``wnrl train`` and ``wnrl sweep`` (standard library only)."""

from __future__ import annotations

import argparse
from typing import Any

from wnrl.atari_settings import BACKENDS
from wnrl.names import COMPILE_CHOICES, COMPILE_MIN_UPDATES, DDI_HEADS


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The per-run options: data-dependent init, evaluations, checkpoints, the env backend."""
    ddi = parser.add_mutually_exclusive_group()
    ddi.add_argument(
        "--ddi",
        action="store_true",
        help="run the data-dependent init (paper sec. 3) even where the preset turns it off",
    )
    ddi.add_argument("--no-ddi", action="store_true", help="skip the data-dependent init")
    parser.add_argument(
        "--ddi-heads",
        choices=DDI_HEADS,
        default=DDI_HEADS[0],
        help="the init rescales the plain output heads to their role's scale (scale, default) "
        "or leaves SB3's init (keep)",
    )
    parser.add_argument("--eval-every", type=int, help="steps between evaluations (0: none)")
    parser.add_argument("--eval-episodes", type=int, help="episodes per evaluation")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (0: none)")
    parser.add_argument(
        "--env-backend", default="auto", choices=BACKENDS,
        help="Atari env backend: ale-py's vector env (ale), SB3's wrappers (sb3), auto",
    )  # fmt: skip
    parser.add_argument(
        "--flush-subnormals", action=argparse.BooleanOptionalAction, default=True,
        help="flush subnormal floats to zero while training (default: on; faster on x86 CPUs, "
        "changes values below 1.2e-38 only)",
    )  # fmt: skip
    parser.add_argument(
        "--compile-optimizer", choices=COMPILE_CHOICES,
        help="torch.compile the optimizer step: auto (default: in CPU runs with at least "
        f"{COMPILE_MIN_UPDATES:,} updates at a constant learning rate), on, off; with "
        "--resume, replaces the run's setting",
    )  # fmt: skip


def run_option_values(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed run options as keyword arguments of ``build_config`` / ``plan_sweep``."""
    return {
        "ddi": True if args.ddi else False if args.no_ddi else None,
        "ddi_heads": args.ddi_heads,
        "eval_every": args.eval_every,
        "eval_episodes": args.eval_episodes,
        "checkpoint_every": args.checkpoint_every,
        "backend": args.env_backend,
        "flush_subnormals": args.flush_subnormals,
        "compile_optimizer": args.compile_optimizer or COMPILE_CHOICES[0],
    }
