"""The Ray backend of a sweep: one Ray task per run (``pip install 'wnrl[ray]'``).

``ray.init()`` starts Ray in-process; an address joins a cluster (the logdir must then be on a
filesystem every node sees, at the same path: see docs/cluster.md).

Joining a cluster goes through Ray's own mechanisms only. Ray's token authentication (Ray >= 2.52;
Ray 2.60's ``ray start --head`` turns it on by itself when a token exists, e.g. the
``~/.ray/auth_token`` that an in-process ``ray.init()`` generates) is configured by the
environment, as Ray documents it: ``RAY_AUTH_MODE=token`` and the token in ``RAY_AUTH_TOKEN``,
a file named by ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``. Ray never turns token mode on
by itself for an explicit address, so a driver without ``RAY_AUTH_MODE=token`` is refused by a
cluster that wants the token; wnrl says so on one line (a :class:`ConfigError`), as it does when
nothing answers at the address (checked first: Ray itself would wait for minutes).

A task whose worker process (or node) dies is run again by Ray (``max_retries``); the cell then
resumes from its newest intact checkpoint, as every cell does (:func:`run_cell` asks
:func:`wnrl.experiment.run_state.run_state`), and its logs keep every row up to that checkpoint
once (:mod:`wnrl.experiment.run_logs`).
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from wnrl.errors import ConfigError, one_line
from wnrl.sweep.grid import Cell
from wnrl.sweep.local_executor import failed_result, sigterm_as_interrupt
from wnrl.sweep.worker import run_cell

#: How many times Ray runs a cell again after its worker process or node died (each time from
#: the cell's newest checkpoint). The cell fails when its worker dies once more.
MAX_RETRIES = 3

#: Seconds to wait for a TCP connection to the cluster's address before giving up.
CONNECT_TIMEOUT = 10.0

#: Where Ray looks for the token, in its order (Ray's token-auth documentation).
TOKEN_HELP = (
    "export RAY_AUTH_TOKEN=<the cluster's token: `ray get-auth-token` on the head node>, or put "
    "it in ~/.ray/auth_token or in a file named by RAY_AUTH_TOKEN_PATH"
)


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


def host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``host:port``, ``[v6]:port`` or ``ray://host:port``; None for what
    Ray resolves itself (``auto``, ``local``) or cannot be parsed here."""
    rest = address.strip()
    if "://" in rest:
        rest = rest.split("://", 1)[1]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """A one-line ConfigError when nothing accepts a TCP connection at ``address`` (Ray's own
    ``ray.init`` would retry for minutes)."""
    parsed = host_port(address)
    if parsed is None:
        return
    host, port = parsed
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        if isinstance(error, socket.gaierror):
            reason = f"cannot resolve {host}"
        elif isinstance(error, TimeoutError):
            reason = f"no answer in {timeout:.0f}s"
        raise ConfigError(
            f"no Ray cluster answers at {address} ({reason}): start its head there with "
            f"`ray start --head --port {port}`, or give --address the address `ray start --head` "
            "printed (HEAD_IP:PORT)"
        ) from error


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def auth_refused(error: BaseException) -> bool:
    """Whether joining failed on Ray's token authentication (Ray wraps the GCS's
    ``InvalidAuthToken`` in a ConnectionError whose cause's text holds it)."""
    ray = ray_module()
    kind = getattr(getattr(ray, "exceptions", None), "AuthenticationError", None)
    for link in _chain(error):
        if kind is not None and isinstance(link, kind):
            return True
        text = str(link)
        if "InvalidAuthToken" in text or "AuthenticationError" in text:
            return True
    return False


def auth_message(address: str, error: BaseException) -> str:
    """What to do when the cluster at ``address`` refused this driver's token (one line)."""
    if os.environ.get("RAY_AUTH_MODE", "").strip().lower() != "token":
        return (
            f"the Ray cluster at {address} wants its authentication token (Ray's token "
            f"authentication is on there): export RAY_AUTH_MODE=token and {TOKEN_HELP} "
            "(or start every node of the cluster with RAY_AUTH_MODE=disabled)"
        )
    if any("no authentication token was found" in str(link) for link in _chain(error)):
        return f"RAY_AUTH_MODE=token but Ray found no token: {TOKEN_HELP}"
    if os.environ.get("RAY_AUTH_TOKEN"):
        source = "RAY_AUTH_TOKEN"
    elif os.environ.get("RAY_AUTH_TOKEN_PATH"):
        source = f"RAY_AUTH_TOKEN_PATH ({os.environ['RAY_AUTH_TOKEN_PATH']})"
    else:
        source = "~/.ray/auth_token"
    return (
        f"the Ray cluster at {address} refused the token from {source}: use the cluster's: "
        f"{TOKEN_HELP}"
    )


def connect(address: str | None) -> None:
    """``ray.init`` in-process (no address) or joining ``address``; one-line ConfigErrors for
    what the user can fix (nothing at the address, the token)."""
    ray = ray_module()
    if address:
        check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(include_dashboard=False, log_to_driver=False)
    except Exception as error:
        if address and auth_refused(error):
            raise ConfigError(auth_message(address, error)) from error
        what = f"join the Ray cluster at {address}" if address else "start a local Ray instance"
        raise ConfigError(f"cannot {what}: {one_line(error)}") from error


def describe_cluster(address: str | None, cpus: int, gpus: float) -> str:
    """``ray: the cluster at ADDR: 2 nodes (10.0.0.1, 10.0.0.2), 16 CPUs, 2 GPUs``."""
    ray = ray_module()
    nodes: list[str] = []
    with contextlib.suppress(Exception):
        nodes = [str(n.get("NodeManagerAddress")) for n in ray.nodes() if n.get("Alive")]
    shown = ", ".join(nodes[:8]) + (f", +{len(nodes) - 8} more" if len(nodes) > 8 else "")
    where = f"the cluster at {address}" if address else "a local instance"
    count = f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"
    return f"ray: {where}: {count} ({shown}), {cpus} CPUs, {gpus:g} GPUs"


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
    hold). A task whose worker dies is retried (:data:`MAX_RETRIES`) and resumes from its
    checkpoint. Returns False when interrupted (Ctrl-C cancels the running tasks: they restart
    from their last periodic checkpoint next time).
    """
    ray = ray_module()
    started_here = not ray.is_initialized()
    if started_here:
        connect(address)
    try:
        resources = ray.cluster_resources()
        cluster_cpus = int(resources.get("CPU", 1))
        cluster_gpus = float(resources.get("GPU", 0))
        tqdm.write(describe_cluster(address, cluster_cpus, cluster_gpus), file=sys.stdout)
        sys.stdout.flush()
        cpus = cpus_per_run or 1
        if cpus > cluster_cpus:
            raise ConfigError(f"--cpus-per-run {cpus}: the Ray cluster has {cluster_cpus} CPUs")
        parallel = max_parallel or max(1, cluster_cpus // cpus)
        if gpus_per_run is None:
            gpus_per_run = 0.0
            if cluster_gpus > 0 and device != "cpu":
                fit = min(parallel, len(cells))
                gpus_per_run = 1.0 / math.ceil(fit / cluster_gpus) if fit > cluster_gpus else 1.0
        # max_calls=1: every cell in a fresh worker process, as the local backend runs it (torch
        # keeps per-process state: compiled optimizer steps count against its recompile limit)
        task = ray.remote(max_calls=1)(run_cell).options(
            num_cpus=cpus, num_gpus=gpus_per_run, max_retries=MAX_RETRIES, name="wnrl-sweep-run"
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
                        except Exception as error:  # died MAX_RETRIES + 1 times, or was lost
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
