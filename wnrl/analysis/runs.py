"""Reading run directories: their configuration, evaluation curves and TensorBoard scalars.

Every directory holding a ``config.yaml`` under the given paths is a run. After a resume, the points
of the restarted branch replace those the interrupted process logged past its checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wnrl import envs  # its names load on first use: reading runs needs no gymnasium
from wnrl.atari_settings import FRAME_SKIP
from wnrl.envs.minatar import is_minatar_id
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.rundir import (
    CHECKPOINTS,
    CONFIG,
    EVALUATIONS,
    evaluation_rows,
    read_config,
)

METRICS = {
    "eval": "evaluation score (mean test return)",
    "train": "training return (rollout/ep_rew_mean)",
}


TRAIN_TAG = "rollout/ep_rew_mean"


@dataclass
class Run:
    """One run directory and its learning curve (``steps`` ascending)."""

    run_dir: Path
    config: dict[str, Any]
    steps: np.ndarray
    values: np.ndarray
    frames_per_step: int = 1

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.config["env"], self.config["agent"], self.config["norm"])


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories (with a config.yaml) at or under ``paths``, sorted, no duplicates."""

    if not paths:
        raise ConfigError("compare needs at least one run directory or root")
    found: dict[Path, None] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise WnrlError(f"no such run directory or root: {path}")
        if (path / CONFIG).is_file():
            found[path.resolve()] = None
            continue
        for config in sorted(path.rglob(CONFIG)):
            if CHECKPOINTS not in config.parent.parts:
                found[config.parent.resolve()] = None
    return sorted(found)


def _keep_latest_branch(points: list[tuple[int, float]], new: list[tuple[int, float]]) -> None:
    """Append ``new`` (one process's points) to ``points``: a branch restarted at step s (a
    resume) replaces whatever the older process logged at steps >= s."""
    if not new:
        return
    start = min(step for step, _ in new)
    points[:] = [p for p in points if p[0] < start]
    points.extend(new)


def _as_curve(points: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    by_step = dict(sorted(points, key=lambda p: p[0]))  # one value per step: the last logged
    steps = np.array(sorted(by_step), dtype=np.int64)
    values = np.array([by_step[s] for s in steps], dtype=np.float64)
    return steps, values


def read_evaluations(run_dir: Path) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(steps, mean scores, frames per step) from ``evaluations.csv``; empty if none. After a
    resume the restarted branch wins (:func:`~wnrl.experiment.rundir.evaluation_rows`)."""

    points: list[tuple[int, float]] = []
    ratio = None
    try:
        for row in evaluation_rows(run_dir):
            step, mean = int(float(row["step"])), float(row["mean"])
            points.append((step, mean))
            if row.get("frames") and step > 0:
                ratio = max(1, round(float(row["frames"]) / step))
    except (KeyError, ValueError, TypeError) as error:
        path = run_dir / EVALUATIONS
        raise WnrlError(f"corrupt {path}: {type(error).__name__}: {error}") from error
    steps, values = _as_curve(points)
    return steps, values, ratio


def read_scalar(run_dir: Path, tag: str) -> tuple[np.ndarray, np.ndarray]:
    """One scalar of the run's TensorBoard events (all event files, resumes merged)."""
    from tensorboard.backend.event_processing.event_accumulator import (
        SCALARS,
        EventAccumulator,
    )

    segments = []
    for path in run_dir.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(path), size_guidance={SCALARS: 0})  # 0: keep all
        accumulator.Reload()
        if tag not in accumulator.Tags().get("scalars", []):
            continue
        events = accumulator.Scalars(tag)
        if events:
            first = min(event.wall_time for event in events)
            segments.append((first, [(int(e.step), float(e.value)) for e in events]))
    points: list[tuple[int, float]] = []
    for _, segment in sorted(segments, key=lambda s: s[0]):
        _keep_latest_branch(points, segment)
    return _as_curve(points)


def _frames_per_step(env_id: str) -> int:
    """The env's frames per agent step, for runs whose evaluations do not record it (the
    evaluations' ``frames`` column is the source otherwise: no env registry needed)."""
    return FRAME_SKIP if envs.is_atari(env_id) else 1


def load_runs(paths: Sequence[str | Path], metric: str = "eval") -> tuple[list[Run], list[str]]:
    """The runs under ``paths`` that have a curve for ``metric``, and notes on those left out."""

    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; use {' or '.join(METRICS)}")
    runs, notes = [], []
    ratios: dict[str, int] = {}
    run_dirs = find_run_dirs(paths)
    if not run_dirs:
        where = ", ".join(map(str, paths))
        raise WnrlError(f"no wnrl run directory (with a config.yaml) under {where}")
    for run_dir in run_dirs:
        try:
            config = read_config(run_dir / CONFIG, ("env", "agent", "norm", "seed"))
        except WnrlError as error:
            notes.append(f"left out {run_dir}: {error}")
            continue
        try:
            steps, values, ratio = read_evaluations(run_dir)
        except WnrlError as error:
            if metric == "eval":
                notes.append(f"left out {run_dir}: {error}")
                continue
            ratio = None  # the train curve does not need it
        if metric == "train":
            steps, values = read_scalar(run_dir, TRAIN_TAG)
        if len(steps) == 0:
            what = "evaluations.csv rows" if metric == "eval" else f"{TRAIN_TAG} in its events"
            notes.append(f"left out {run_dir}: no {what}")
            continue
        env = str(config["env"])
        if ratio is None:
            ratio = ratios.get(env) or _frames_per_step(env)
        ratios[env] = ratio
        runs.append(Run(run_dir, config, steps, values, ratio))
    if not runs:
        hint = (
            " (runs need --eval-every > 0, or use --metric train)"
            if metric == "eval"
            else " (no episode finished yet?)"
        )
        where = ", ".join(map(str, paths))
        raise WnrlError(f"none of the runs under {where} has a {metric} curve{hint}")
    return runs, notes


def area_under_curve(steps: np.ndarray, values: np.ndarray) -> float:
    """Trapezoid integral over steps divided by the steps it spans (the mean score over
    training); a single point is its own value."""
    if len(steps) == 1:
        return float(values[0])
    span = float(steps[-1] - steps[0])
    integral = float(np.sum((values[1:] + values[:-1]) / 2.0 * np.diff(steps)))
    return integral / span


def game_name(env_id: str) -> str:
    """``ALE/SpaceInvaders-v5``, ``SpaceInvadersNoFrameskip-v4``, ``MinAtar/SpaceInvaders-v1``
    -> ``SpaceInvaders``."""
    name = env_id.split("/")[-1]
    name = re.sub(r"-v\d+$", "", name)
    return re.sub(r"(NoFrameskip|Deterministic)$", "", name)


def score_key(env_id: str) -> str:
    """The key of an env's reference scores: the game name (``Breakout``), ``MinAtar-Breakout``
    for MinAtar's version (another game, other scores)."""
    game = game_name(env_id)
    return f"MinAtar-{game}" if is_minatar_id(env_id) else game


#: per-run score the statistics use: the last evaluation, the best one, or the area under the
#: curve per step (the average score over training)
SCORES = {
    "final": lambda run: float(run.values[-1]),
    "max": lambda run: float(run.values.max()),
    "auc": lambda run: area_under_curve(run.steps, run.values),
}

#: the score choice that means every score of :data:`SCORES` (what the reporting rules publish)
ALL_SCORES = "all"
