"""The files of a run directory written by ``wnrl train``, and reading its ``config.yaml``.

``<run>/config.yaml`` (the resolved configuration), ``<run>/model.zip`` (the final model),
``<run>/evaluations.csv``, ``<run>/checkpoints/`` (see :mod:`wnrl.checkpoints`), TensorBoard
events and ``progress.csv``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from wnrl.errors import WnrlError

CONFIG = "config.yaml"
FINAL_MODEL = "model.zip"
EVALUATIONS = "evaluations.csv"
PROGRESS = "progress.csv"  # SB3's CSV log
LOCK = ".wnrl.lock"  # held by the process training the run (wnrl.locks)
#: settings config.yaml gained after a release, with the value that runs written before behaved as
ADDED_SETTINGS: dict[str, Any] = {"ddi_heads": "scale"}


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
