"""Atomic checkpoints of a training run: a killed process never leaves a half-written one.

Layout inside a run directory::

    checkpoints/
        latest                  name of the newest complete checkpoint (replaced atomically)
        step-000050000/
            model.zip           SB3 save: policy, optimizer state, hyperparameters, step count
            replay_buffer.pkl   off-policy algorithms only
            state.json          {"num_timesteps": ..., "n_updates": ...}

A checkpoint is written into a hidden temporary directory, flushed to disk, then renamed into
place (a single atomic ``os.replace``), and only then is ``latest`` switched to it, also by
``os.replace``. Older checkpoints beyond ``keep`` are removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from wnrl.errors import WnrlError
from wnrl.rundir import CONFIG, FINAL_MODEL

CHECKPOINTS = "checkpoints"
LATEST = "latest"
MODEL = "model.zip"
REPLAY_BUFFER = "replay_buffer.pkl"
STATE = "state.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_save_model(model: BaseAlgorithm, path: Path) -> None:
    """``model.save`` to a temporary name in the same directory, then rename into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".zip", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        _fsync_file(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def save_checkpoint(model: BaseAlgorithm, run_dir: Path, keep: int = 2) -> Path:
    """Write a complete checkpoint of ``model`` atomically; returns its directory."""
    root = run_dir / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{model.num_timesteps:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        model.save(tmp / MODEL)
        if isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
            model.save_replay_buffer(tmp / REPLAY_BUFFER)
        state = {"num_timesteps": model.num_timesteps, "n_updates": getattr(model, "_n_updates", 0)}
        (tmp / STATE).write_text(json.dumps(state))
        for file in tmp.iterdir():
            _fsync_file(file)
        final = root / name
        if final.exists():  # the same step saved twice (e.g. a signal right after a checkpoint)
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / LATEST, name + "\n")
    _prune(root, keep, current=name)
    return final


def _prune(root: Path, keep: int, current: str) -> None:
    complete = sorted(p for p in root.glob("step-*") if p.is_dir())
    for old in complete[:-keep] if keep > 0 else []:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)
    _discard_checkpoint_temporaries(root)


def _discard_checkpoint_temporaries(root: Path) -> None:
    for stale in root.glob(".step-*"):  # temporaries of a killed process
        shutil.rmtree(stale, ignore_errors=True)
    for stale in root.glob(f".{LATEST}.*"):
        stale.unlink(missing_ok=True)


def discard_partial_writes(run_dir: Path) -> None:
    """Remove what a killed process left half-written in ``run_dir``: temporary checkpoint
    directories and the temporary files of the final model, ``config.yaml`` and ``latest``.
    Complete files are never touched. Call it before a run continues (nothing else may be
    writing the run then)."""
    _discard_checkpoint_temporaries(run_dir / CHECKPOINTS)
    for stale in run_dir.glob(f".{Path(FINAL_MODEL).stem}.*.zip"):  # atomic_save_model's
        stale.unlink(missing_ok=True)
    for stale in run_dir.glob(f".{CONFIG}.*"):  # atomic_write_text's
        stale.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None when it has none."""
    root = run_dir / CHECKPOINTS
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise WnrlError(f"cannot read {pointer}: {type(error).__name__}") from error
    if not name or "\n" in name or name in (".", "..") or "/" in name or os.sep in name:
        raise WnrlError(f"corrupt {pointer}: it should hold a checkpoint name, got {name!r:.60}")
    path = root / name
    if not (path / MODEL).is_file():
        raise WnrlError(f"checkpoint model {path / MODEL} (named by {pointer}) is missing")
    return path


def load_checkpoint(
    algorithm: type[BaseAlgorithm], checkpoint: Path, env: Any, device: str, **kwargs: Any
) -> BaseAlgorithm:
    """The model (and replay buffer) of a checkpoint, attached to ``env``."""
    try:
        model = algorithm.load(checkpoint / MODEL, env=env, device=device, **kwargs)
    except Exception as error:  # corrupt or foreign file: a user-facing error
        raise WnrlError(f"cannot load checkpoint {checkpoint}: {error}") from error
    buffer = checkpoint / REPLAY_BUFFER
    if isinstance(model, OffPolicyAlgorithm) and buffer.is_file():
        model.load_replay_buffer(buffer)
    return model
