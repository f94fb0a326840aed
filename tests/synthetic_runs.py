"""Run directories as ``wnrl train`` writes them, with made-up scores (test helpers for the
analysis: ``wnrl compare``, statistics, the paper table)."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from wnrl.analysis.runs import TRAIN_TAG


def make_run(
    root: Path,
    env: str,
    norm: str,
    seed: int,
    evals: list[tuple[int, float]] | None = None,
    agent: str = "dqn",
    frames_per_step: int = 1,
    scalars: list[list[tuple[int, float]]] | None = None,
    config_extra: dict | None = None,
) -> Path:
    """A run directory as ``wnrl train`` writes it: config.yaml, evaluations.csv and one
    TensorBoard events file per process (``scalars``: rollout/ep_rew_mean of each process)."""
    run_dir = root / env.replace("/", "-") / f"{agent}-{norm}-s{seed}"
    run_dir.mkdir(parents=True)
    config = {
        "agent": agent,
        "env": env,
        "norm": norm,
        "seed": seed,
        "n_timesteps": 300,
        "hyperparams": {"learning_rate": 1e-3},
        "logdir": str(root),
        **(config_extra or {}),
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    if evals is not None:
        with open(run_dir / "evaluations.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["step", "frames", "mean", "std", "max", "min", "episodes"])
            for step, mean in evals:
                writer.writerow([step, step * frames_per_step, mean, 0.0, mean, mean, 2])
    if scalars:
        from torch.utils.tensorboard import SummaryWriter

        for process, points in enumerate(scalars):
            writer = SummaryWriter(str(run_dir), filename_suffix=f".{process}")
            for step, value in points:
                writer.add_scalar(TRAIN_TAG, value, step, walltime=1000.0 * (process + 1))
            writer.close()
    return run_dir
