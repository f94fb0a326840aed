"""The local backend of a sweep: a bounded pool of ``spawn`` processes, one run per process.

At most ``max_parallel`` runs at a time (default: one per core, at most 4 per GPU), each with its
threads limited to a share of the cores; Ctrl-C, SIGTERM or SIGHUP makes the running cells
checkpoint.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from typing import Any

import torch

from wnrl.experiment.stop_signals import STOP_SIGNALS
from wnrl.sweep.grid import Cell
from wnrl.sweep.worker import local_worker, raise_keyboard_interrupt


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def cuda_devices(device: str) -> int:
    """GPUs the local backend spreads runs over: all of them for ``auto``/``cuda``, one for
    ``cuda:N`` (every run on that one, as asked), none for ``cpu``."""
    if device == "cpu":
        return 0

    if device.startswith("cuda:"):
        return 1

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def failed_result(cell: Cell, message: str, status: str = "failed") -> dict[str, Any]:
    return {"run_dir": str(cell.run_dir), "status": status, "error": message, "seconds": 0.0}


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP to the sweep are handled like Ctrl-C (the running cells checkpoint
    and stop)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    others = [signum for signum in STOP_SIGNALS if signum != signal.SIGINT]
    previous = {signum: signal.signal(signum, raise_keyboard_interrupt) for signum in others}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_local(
    cells: Sequence[Cell],
    done: Callable[[Cell, dict[str, Any]], None],
    max_parallel: int,
    threads: int,
    gpus: int = 0,
) -> bool:
    """Run ``cells`` in at most ``max_parallel`` worker processes; ``done`` gets each result.

    Returns False when interrupted (Ctrl-C or SIGTERM: the running cells get SIGTERM, write a
    checkpoint and stop; a second Ctrl-C kills them).
    """

    context = multiprocessing.get_context("spawn")
    queue = deque(cells)
    free_slots = list(range(max_parallel))
    running: dict[int, tuple[Any, Any, Cell, int]] = {}
    interrupted = False
    with sigterm_as_interrupt():
        while running or (queue and not interrupted):
            while queue and free_slots and not interrupted:
                cell = queue.popleft()
                slot = free_slots.pop(0)
                gpu = slot % gpus if gpus else None
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(
                    target=local_worker,
                    args=(str(cell.run_dir.resolve()), cell.config, threads, gpu, sender),
                    name=f"wnrl-sweep-{cell.run_dir.name}",
                )
                process.start()
                sender.close()
                running[process.sentinel] = (process, receiver, cell, slot)
            try:
                ready = wait(list(running), timeout=1.0)
            except KeyboardInterrupt:
                if interrupted:  # the second one: stop now
                    for process, *_ in running.values():
                        process.kill()
                else:
                    interrupted = True
                    for process, *_ in running.values():
                        if process.pid is not None:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(process.pid, signal.SIGTERM)
                continue
            for sentinel in ready:
                process, receiver, cell, slot = running.pop(sentinel)
                process.join()
                free_slots.append(slot)
                result = None
                with contextlib.suppress(EOFError, OSError):
                    if receiver.poll():
                        result = receiver.recv()
                receiver.close()
                if result is None:
                    status = "interrupted" if interrupted else "failed"
                    result = failed_result(
                        cell, f"worker process died (exit code {process.exitcode})", status
                    )
                done(cell, result)
    return not interrupted
