"""One cell of a sweep, run in a worker process (a local pool process or a Ray task).

The worker limits its torch/OpenMP threads, sends the run's output to ``<run_dir>.log`` and
trains, resumes or restarts the cell through :mod:`wnrl.experiment.train`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from wnrl.errors import TrainingDiverged, WnrlError, one_line
from wnrl.experiment.checkpoints import CHECKPOINTS
from wnrl.experiment.run_state import run_state
from wnrl.experiment.rundir import CONFIG, EVALUATIONS, PROGRESS, evaluation_rows
from wnrl.experiment.stop_signals import STOP_SIGNALS
from wnrl.experiment.train import resume_run, start_run
from wnrl.sweep.grid import log_path


def _limit_threads(threads: int) -> None:
    """One run's share of the cores: OpenMP/MKL (before torch starts its pools) and torch."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import torch

    torch.set_num_threads(threads)


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (file descriptors 1 and 2) to ``path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(path, "a", buffering=1) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


def _clean_for_restart(run_dir: Path) -> None:
    """Remove what a run that died before its first checkpoint left (its curves start over).

    Only the files ``wnrl train`` writes: anything else left there makes ``start_run`` refuse
    the directory (the cell fails with that message) rather than lose someone's file."""

    if not run_dir.is_dir():
        return
    for path in [*run_dir.glob("events.out.tfevents.*"), run_dir / PROGRESS]:
        path.unlink(missing_ok=True)
    for name in (EVALUATIONS, CONFIG):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)  # no complete checkpoint in it


def _train_cell(run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Train, resume or restart the cell as its run directory's state says
    (:func:`~wnrl.experiment.run_state.run_state`, the same decision ``wnrl train --resume``
    makes: a damaged newest checkpoint is skipped with a warning)."""
    state = run_state(run_dir)
    if state.kind == "finished":
        return {"status": "skipped"}
    if state.kind in ("resume", "damaged"):  # damaged: resume_run says why it cannot go on
        print(f"resuming from {state.checkpoint.name if state.checkpoint else '-'}", flush=True)
        result = resume_run(run_dir, progress="none")
        status = "resumed"
    else:
        _clean_for_restart(run_dir)
        result = start_run(config, progress="none", run_dir=run_dir)
        status = "finished"
    if result.status == "interrupted":
        status = "interrupted"
    evaluations = _read_evaluations(run_dir)
    out: dict[str, Any] = {"status": status, "num_timesteps": int(result.num_timesteps)}
    if evaluations:
        out["eval_max"] = max(evaluations)
        out["eval_last"] = evaluations[-1]
    return out


def _read_evaluations(run_dir: Path) -> list[float]:
    """The ``mean`` column of evaluations.csv (after a resume, the restarted branch wins)."""
    return [float(row["mean"]) for row in evaluation_rows(run_dir)]


def run_cell(
    run_dir: str, config: dict[str, Any], threads: int = 1, gpu: int | None = None
) -> dict[str, Any]:
    """Train (or skip, resume, restart) one cell; never raises, returns a result dict.

    The run's own output goes to :func:`log_path` (``<run_dir>.log``). ``gpu``: the CUDA
    device this run uses as ``cuda`` (local backend; Ray sets ``CUDA_VISIBLE_DEVICES``).
    """
    start = time.time()
    path = Path(run_dir)
    out: dict[str, Any] = {"run_dir": str(path)}
    try:
        _limit_threads(max(1, int(threads)))
        if gpu is not None:
            import torch

            torch.cuda.set_device(gpu)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _output_to(log_path(path)):
            print(f"=== wnrl sweep: {datetime.now().isoformat(timespec='seconds')}", flush=True)
            try:
                out.update(_train_cell(path, config))
            except (WnrlError, TrainingDiverged) as error:
                out.update(status="failed", error=one_line(error))
            except KeyboardInterrupt:
                out.update(status="interrupted", error="interrupted before a checkpoint")
            except Exception as error:  # a bug or an environment problem: keep the traceback
                traceback.print_exc()
                out.update(status="failed", error=f"{type(error).__name__}: {one_line(error)}")
            print(f"=== {out['status']}: {out.get('error', 'ok')}", flush=True)
    except KeyboardInterrupt:  # SIGTERM while torch was still importing
        out.update(status="interrupted", error="interrupted before training started")
    except Exception as error:  # e.g. the run directory cannot be created
        out.update(status="failed", error=f"{type(error).__name__}: {one_line(error)}")
    out["seconds"] = time.time() - start
    return out


def raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def local_worker(run_dir: str, config: dict[str, Any], threads: int, gpu: int | None, conn: Any):
    """Target of a local worker process: one cell, its result sent back through ``conn``.

    A stop signal (SIGTERM, SIGHUP) before training starts (while importing) ends the cell as
    "interrupted"; during training the run's own guard turns it into a checkpoint and a clean
    stop."""
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT:  # Ctrl-C reaches the workers as KeyboardInterrupt already
            signal.signal(signum, raise_keyboard_interrupt)
    result = run_cell(run_dir, config, threads, gpu)
    conn.send(result)
    conn.close()
