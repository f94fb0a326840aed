"""Atomic checkpoints of a training run: a killed process never leaves a half-written one.

Layout inside a run directory::

    checkpoints/
        latest                  name of the newest complete checkpoint (replaced atomically)
        step-000050000/
            model.zip           SB3 save: policy, optimizer state, hyperparameters, step count
            replay_buffer.pkl   off-policy algorithms only
            state.json          {"num_timesteps", "n_updates", "files": {name: {size, sha256}}}

A checkpoint is written into a hidden temporary directory, flushed to disk, then renamed into
place (a single atomic ``os.replace``), and only then is ``latest`` switched to it, also by
``os.replace``. Older checkpoints beyond ``keep`` are removed afterwards. A write that fails
(a full disk) removes its temporary directory and leaves the previous checkpoint and ``latest``
as they were (:class:`CheckpointWriteError`).

``state.json`` is the checkpoint's manifest, written last: the size and SHA-256 of every file.
:func:`resume_candidates` lists the complete checkpoints newest first and
:func:`verify_checkpoint` checks one against its manifest, so a damaged checkpoint (a partial
copy, a bad disk) is skipped for the next intact one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnrl.errors import RunFailed, WnrlError
from wnrl.experiment.rundir import (
    CHECKPOINT_MODEL,
    CHECKPOINTS,
    CONFIG,
    FINAL_MODEL,
    LATEST,
    REPLAY_BUFFER,
    STATE,
)
from wnrl.sb3.refusals import loading_saved_models

if TYPE_CHECKING:  # SB3 is imported where a model is saved or loaded: run_state reads only files
    from stable_baselines3.common.base_class import BaseAlgorithm


class CheckpointWriteError(RunFailed):
    """A checkpoint (or the final model) could not be written, e.g. the disk is full; the
    previous checkpoint and ``latest`` are intact (CLI exit code 1)."""


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    """``model.save`` to a temporary name in the same directory, then rename into place; a
    failed write (:class:`CheckpointWriteError`) leaves no partial file and ``path`` as it
    was."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".zip", dir=path.parent)
        os.close(fd)
        model.save(tmp)
        _fsync_file(Path(tmp))
        os.replace(tmp, path)
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        reason = error.strerror or type(error).__name__
        raise CheckpointWriteError(f"cannot write {path}: {reason}") from error
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def save_checkpoint(model: BaseAlgorithm, run_dir: Path, keep: int = 2) -> Path:
    """Write a complete checkpoint of ``model`` atomically; returns its directory.

    Raises :class:`CheckpointWriteError` when a file cannot be written (nothing is left
    half-written: the temporary directory is removed, ``latest`` still names the previous
    checkpoint).
    """
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    root = run_dir / CHECKPOINTS
    name = f"step-{model.num_timesteps:09d}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    except OSError as error:
        raise _write_error(name, root, error) from error
    try:
        model.save(tmp / CHECKPOINT_MODEL)
        if isinstance(model, OffPolicyAlgorithm) and model.replay_buffer is not None:
            model.save_replay_buffer(tmp / REPLAY_BUFFER)
        files = {}
        for file in sorted(tmp.iterdir()):
            _fsync_file(file)
            files[file.name] = {"size": file.stat().st_size, "sha256": file_digest(file)}
        state = {
            "num_timesteps": model.num_timesteps,
            "n_updates": getattr(model, "_n_updates", 0),
            "files": files,
        }
        with open(tmp / STATE, "w") as handle:  # the manifest, last
            handle.write(json.dumps(state, indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        final = root / name
        if final.exists():  # the same step saved twice (e.g. a signal right after a checkpoint)
            shutil.rmtree(final)
        os.replace(tmp, final)
        atomic_write_text(root / LATEST, name + "\n")
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(name, root, error) from error
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(root, keep, current=name)
    return final


def _write_error(name: str, root: Path, error: OSError) -> CheckpointWriteError:
    reason = error.strerror or type(error).__name__
    previous = _pointer_name(root / LATEST)
    kept = f"the last complete checkpoint ({previous}) is intact" if previous else "none yet"
    return CheckpointWriteError(f"cannot write checkpoint {name} in {root}: {reason}; {kept}")


def _is_checkpoint_name(name: str) -> bool:
    """A plain directory name inside ``checkpoints/`` (what ``latest`` may hold)."""
    return (
        bool(name)
        and "\n" not in name
        and name not in (".", "..")
        and "/" not in name
        and (os.sep not in name)
    )


def _pointer_name(pointer: Path) -> str | None:
    """The checkpoint name ``latest`` holds, or None if it is missing, unreadable or corrupt."""
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return name if _is_checkpoint_name(name) else None


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
    if not _is_checkpoint_name(name):
        raise WnrlError(f"corrupt {pointer}: it should hold a checkpoint name, got {name!r:.60}")
    path = root / name
    if not (path / CHECKPOINT_MODEL).is_file():
        raise WnrlError(
            f"checkpoint model {path / CHECKPOINT_MODEL} (named by {pointer}) is missing"
        )
    return path


def checkpoint_step(checkpoint: Path) -> int:
    """The step a checkpoint holds: ``num_timesteps`` in its state.json (its directory name,
    ``step-<N>``, where state.json cannot be read: planning a sweep does not verify)."""
    try:
        state = json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
        return int(state["num_timesteps"])
    except (OSError, ValueError, KeyError, TypeError):
        return int(checkpoint.name.split("-")[1])


def resume_candidates(run_dir: Path) -> Iterator[Path]:
    """The complete checkpoints of a run, newest first: the one ``latest`` names, then every
    other ``step-*`` directory by step."""
    root = run_dir / CHECKPOINTS
    named = _pointer_name(root / LATEST)
    seen = set()
    if named and (root / named).is_dir():
        seen.add(named)
        yield root / named
    others = [p for p in root.glob("step-*") if p.is_dir() and p.name not in seen]
    others.sort(key=lambda p: p.name, reverse=True)  # zero-padded: name order is step order
    yield from others


def verify_checkpoint(checkpoint: Path) -> str | None:
    """None when ``checkpoint`` matches its manifest (every file there, of the recorded size and
    SHA-256), else what is wrong, in a few words."""
    if not (checkpoint / CHECKPOINT_MODEL).is_file():
        return f"{CHECKPOINT_MODEL} is missing"
    try:
        state = json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{STATE} is missing"
    except (OSError, UnicodeDecodeError, ValueError):
        return f"{STATE} is unreadable"
    files = state.get("files") if isinstance(state, dict) else None
    if not isinstance(files, dict) or CHECKPOINT_MODEL not in files:
        return f"{STATE} has no manifest of the checkpoint's files"
    for name, expected in files.items():
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != expected.get("size"):
            return f"{name} has {size:,} bytes, {expected.get('size'):,} were written"
        if file_digest(path) != expected.get("sha256"):
            return f"{name} does not match its checksum"
    return None


def finish_from_checkpoint(run_dir: Path, checkpoint: Path) -> None:
    """A run stopped after its last checkpoint (at the final step) but before ``model.zip``:
    that checkpoint's model becomes the final model (copied atomically)."""
    fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".zip", dir=run_dir)
    os.close(fd)
    try:
        shutil.copyfile(checkpoint / CHECKPOINT_MODEL, tmp)
        _fsync_file(Path(tmp))
        os.replace(tmp, run_dir / FINAL_MODEL)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(
    algorithm: type[BaseAlgorithm], checkpoint: Path, env: Any, device: str, **kwargs: Any
) -> BaseAlgorithm:
    """The model (and replay buffer) of a checkpoint, attached to ``env``."""
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

    try:
        with loading_saved_models():  # a run started before a norm was refused resumes
            model = algorithm.load(checkpoint / CHECKPOINT_MODEL, env=env, device=device, **kwargs)
    except Exception as error:  # corrupt or foreign file: a user-facing error
        raise WnrlError(f"cannot load checkpoint {checkpoint}: {error}") from error
    buffer = checkpoint / REPLAY_BUFFER
    if isinstance(model, OffPolicyAlgorithm) and buffer.is_file():
        model.load_replay_buffer(buffer)
    return model
