"""The names of a run directory's files (one owner for all of them), and reading its config.

``<run>/config.yaml`` (the resolved configuration), ``<run>/model.zip`` (the final model),
``<run>/evaluations.csv``, ``<run>/checkpoints/`` (:mod:`wnrl.experiment.checkpoints`: one
``step-<N>/`` directory per checkpoint with ``model.zip``, ``replay_buffer.pkl`` and
``state.json``, and the ``latest`` pointer), TensorBoard events and ``progress.csv``. Run
directories are named ``<logdir>/<env>/<agent>-<norm>-s<seed>[-<time>]``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from wnrl.errors import WnrlError

CONFIG = "config.yaml"
FINAL_MODEL = "model.zip"
EVALUATIONS = "evaluations.csv"
PROGRESS = "progress.csv"  # SB3's CSV log
LOCK = ".wnrl.lock"  # held by the process training the run (wnrl.experiment.locks)
CHECKPOINTS = "checkpoints"  # <run>/checkpoints/
LATEST = "latest"  # <run>/checkpoints/latest: the name of the newest complete checkpoint
CHECKPOINT_MODEL = "model.zip"  # <checkpoint>/model.zip
REPLAY_BUFFER = "replay_buffer.pkl"  # <checkpoint>/replay_buffer.pkl (off-policy agents)
STATE = "state.json"  # <checkpoint>/state.json: step count and file digests, written last
#: settings of config.yaml that do not change what a run computes
NOT_COMPUTED = ("wnrl_version", "logdir", "device", "compile_optimizer")
#: settings config.yaml gained after a release, with the value that runs written before behaved as
ADDED_SETTINGS: dict[str, Any] = {
    "ddi_heads": "scale",
    "flush_subnormals": False,
    "compile_optimizer": "off",
}


def env_slug(env_id: str) -> str:
    """The env's folder name under a logdir: its id with ``/`` as ``-``."""
    return env_id.replace("/", "-")


def run_name(agent: str, norm: str, seed: int) -> str:
    """``<agent>-<norm>-s<seed>``: the start of every run directory's name."""
    return f"{agent}-{norm}-s{seed}"


def computed_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` as config.yaml holds it, without the settings that do not change what the
    run computes (:data:`NOT_COMPUTED`): two runs with equal results compute the same thing."""
    plain = yaml.safe_load(yaml.safe_dump(config))
    return {key: value for key, value in plain.items() if key not in NOT_COMPUTED}


def read_config(path: Path, required: Iterable[str] = ()) -> dict[str, Any]:
    """The mapping in a run's ``config.yaml``; a one-line WnrlError naming ``path`` otherwise.

    ``env_kwargs`` is always a dict in the result, and settings added since the run was
    written get the value it ran with (:data:`ADDED_SETTINGS`); ``required`` keys must be
    present.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WnrlError(f"cannot read run config {path}: {type(error).__name__}") from error
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise WnrlError(f"corrupt run config {path}: not valid YAML ({problem}{where})") from error
    if not isinstance(config, dict):
        raise WnrlError(
            f"corrupt run config {path}: expected a YAML mapping, got {type(config).__name__}"
        )
    env_kwargs = config.get("env_kwargs")
    if env_kwargs is None:
        config["env_kwargs"] = {}
    elif not isinstance(env_kwargs, dict):
        raise WnrlError(f"corrupt run config {path}: env_kwargs must be a mapping")
    env = config.get("env")
    if env is not None and not isinstance(env, str):
        raise WnrlError(f"corrupt run config {path}: env must be a string, got {env!r}")
    for key, value in ADDED_SETTINGS.items():
        config.setdefault(key, value)
    missing = sorted(set(required) - set(config))
    if missing:
        raise WnrlError(f"corrupt run config {path}: missing {', '.join(missing)}")
    return config


def evaluation_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's ``evaluations.csv`` (none if it has none), each step once: after a
    resume, the restarted branch wins (a row at a step at or before an earlier row's replaces
    the rows from that step on). KeyError or ValueError on a row without a numeric ``step``."""
    path = run_dir / EVALUATIONS
    if not path.is_file():
        return []
    rows: list[dict[str, str]] = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            step = float(row["step"])
            rows = [kept for kept in rows if float(kept["step"]) < step]
            rows.append(row)
    return rows
