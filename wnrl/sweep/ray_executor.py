"""The Ray backend of a sweep: one Ray task per run (``pip install 'wnrl[ray]'``).

``ray.init()`` starts Ray in-process, an address joins a cluster (the logdir must then be on a
filesystem every node sees).
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from wnrl.errors import ConfigError, one_line
from wnrl.sweep.grid import Cell
from wnrl.sweep.local_executor import failed_result, sigterm_as_interrupt
from wnrl.sweep.worker import run_cell


def ray_module() -> Any:
    """``import ray``, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError(
            "the ray backend needs Ray, which is not installed: pip install 'wnrl[ray]' "
            "(or pip install 'ray[default]')"
        ) from error
    return ray


def run_ray(
    cells: Sequence[Cell],
    done: Callable[[Cell, dict[str, Any]], None],
    address: str | None,
    max_parallel: int | None,
    cpus_per_run: int | None,
    gpus_per_run: float | None,
    device: str = "auto",
) -> bool:
    """One Ray task per cell (``ray.init()`` in-process, or joins ``address``).

    Each task asks for ``cpus_per_run`` CPUs (default 1) and ``gpus_per_run`` GPUs (default:
    the cluster's GPUs shared evenly by the runs that fit at once; 0 with ``--device cpu``).
    At most ``max_parallel`` tasks are in flight (default: as many as the cluster's CPUs
    hold). Returns False when interrupted (Ctrl-C cancels the running tasks: they restart from
    their last periodic checkpoint next time).
    """
    ray = ray_module()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
        except Exception as error:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise ConfigError(f"cannot start {where}: {one_line(error)}") from error
    try:
        resources = ray.cluster_resources()
        cluster_cpus = int(resources.get("CPU", 1))
        cluster_gpus = float(resources.get("GPU", 0))
        cpus = cpus_per_run or 1
        if cpus > cluster_cpus:
            raise ConfigError(f"--cpus-per-run {cpus}: the Ray cluster has {cluster_cpus} CPUs")
        parallel = max_parallel or max(1, cluster_cpus // cpus)
        if gpus_per_run is None:
            gpus_per_run = 0.0
            if cluster_gpus > 0 and device != "cpu":
                fit = min(parallel, len(cells))
                gpus_per_run = 1.0 / math.ceil(fit / cluster_gpus) if fit > cluster_gpus else 1.0
        task = ray.remote(run_cell).options(
            num_cpus=cpus, num_gpus=gpus_per_run, max_retries=1, name="wnrl-sweep-run"
        )
        queue = deque(cells)
        pending: dict[Any, Cell] = {}
        interrupted = False
        with sigterm_as_interrupt():
            try:
                while queue or pending:
                    while queue and len(pending) < parallel:
                        cell = queue.popleft()
                        ref = task.remote(str(cell.run_dir.resolve()), cell.config, cpus, None)
                        pending[ref] = cell
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
                    for ref in ready:
                        cell = pending.pop(ref)
                        try:
                            result = ray.get(ref)
                        except Exception as error:  # the worker died, or the task was lost
                            result = failed_result(cell, f"Ray task failed: {one_line(error)}")
                        done(cell, result)
            except KeyboardInterrupt:
                interrupted = True
                for ref, cell in pending.items():
                    with contextlib.suppress(Exception):
                        ray.cancel(ref)
                    done(cell, failed_result(cell, "cancelled (Ctrl-C)", "interrupted"))
        return not interrupted
    finally:
        if started_here:
            ray.shutdown()
