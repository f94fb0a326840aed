"""Run a planned sweep on a backend, keep its manifest ``sweep.yaml`` and report each cell."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from wnrl import __version__
from wnrl.errors import ConfigError
from wnrl.experiment.checkpoints import atomic_write_text
from wnrl.experiment.locks import exclusive_lock
from wnrl.sweep import EXECUTORS
from wnrl.sweep.grid import (
    LOCK,
    MANIFEST,
    OK_STATUSES,
    PUBLISHED,
    Cell,
    Sweep,
    existing_state,
    log_path,
)
from wnrl.sweep.local_executor import available_cores, cuda_devices, run_local
from wnrl.sweep.ray_executor import ray_module, run_ray


@dataclass
class SweepReport:
    """What a sweep did: one result dict per cell (``status``, ``error``, ``eval_max``, ...)."""

    sweep: Sweep
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # run dir -> result
    interrupted: bool = False

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results.values() if r.get("status") not in OK_STATUSES]

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.failed else 0


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def write_manifest(report: SweepReport, backend: str, started: str) -> Path:
    """``<logdir>/sweep.yaml``: the grid, its options and each cell's status (atomic write)."""

    sweep = report.sweep
    cells = []
    for cell in sweep.cells:
        result = report.results.get(str(cell.run_dir), {})
        entry: dict[str, Any] = {
            "env": cell.env,
            "norm": cell.norm,
            "seed": cell.seed,
            "run_dir": _relative(cell.run_dir, sweep.logdir),
            "status": result.get("status", "pending"),
        }
        for key in ("num_timesteps", "eval_max", "eval_last", "error"):
            if result.get(key) is not None:
                entry[key] = result[key]
        if result.get("seconds"):
            entry["seconds"] = round(float(result["seconds"]), 1)
        cells.append(entry)
    manifest = {
        "wnrl_version": __version__,
        "started": started,
        "updated": datetime.now().isoformat(timespec="seconds"),
        "agent": sweep.agent,
        "preset": sweep.preset,
        "envs": sweep.envs,
        "norms": sweep.norms,
        "seeds": sweep.seeds,
        "options": sweep.options,
        "backend": backend,
        "cells": cells,
    }
    path = sweep.logdir / MANIFEST
    atomic_write_text(path, yaml.safe_dump(manifest, sort_keys=False))
    return path


def run_order(sweep: Sweep, cells: list[Cell]) -> list[Cell]:
    """The order cells run in: interrupted runs first (their checkpoints are work already paid
    for), then seed by seed, every env x norm of a seed before the next seed, so that a sweep
    stopped midway has the same number of seeds in every env x norm (up to one)."""
    seeds = {seed: k for k, seed in enumerate(sweep.seeds)}
    return sorted(cells, key=lambda cell: (cell.state == "new", seeds[cell.seed]))


def _sweep_lock(logdir: Path) -> contextlib.AbstractContextManager[None]:
    """One sweep at a time in a logdir (two would train the same cells)."""
    logdir.mkdir(parents=True, exist_ok=True)
    return exclusive_lock(logdir / LOCK, f"another wnrl sweep is running in {logdir}")


def _result_line(index: int, total: int, cell: Cell, result: dict[str, Any]) -> str:
    status = result.get("status", "failed")
    width = len(str(total))
    parts = [
        f"[{index:>{width}}/{total}]",
        f"{status.upper() if status == 'failed' else status:<11}",
    ]
    parts.append(f"{cell.env}  {cell.config['agent']}-{cell.norm}-s{cell.seed}")
    if result.get("num_timesteps") is not None:
        parts.append(f"{int(result['num_timesteps']):,} steps")
    if result.get("eval_max") is not None:
        parts.append(f"eval max {result['eval_max']:.1f} last {result['eval_last']:.1f}")
    if result.get("seconds"):
        parts.append(f"{result['seconds']:.0f}s")
    if result.get("error"):
        log = log_path(cell.run_dir)
        parts.append(f"error: {result['error']}" + (f" (log: {log})" if log.exists() else ""))
    return "  ".join(parts)


def run_sweep(
    sweep: Sweep,
    backend: str = "local",
    max_parallel: int | None = None,
    cpus_per_run: int | None = None,
    gpus_per_run: float | None = None,
    address: str | None = None,
    show_progress: bool | None = None,
) -> SweepReport:
    """Run every cell of ``sweep`` (finished cells are skipped), writing the manifest as cells
    finish; prints one line per cell and a total progress bar (on a terminal)."""

    if backend not in EXECUTORS:
        raise ConfigError(f"unknown sweep backend {backend!r}; use local or ray")
    if address and backend != "ray":
        raise ConfigError("--address joins a Ray cluster: use it with --backend ray")
    if max_parallel is not None and max_parallel < 1:
        raise ConfigError(f"--max-parallel must be >= 1, got {max_parallel}")
    if cpus_per_run is not None and cpus_per_run < 1:
        raise ConfigError(f"--cpus-per-run must be >= 1, got {cpus_per_run}")
    if gpus_per_run is not None and gpus_per_run < 0:
        raise ConfigError(f"--gpus-per-run must be >= 0, got {gpus_per_run}")
    if backend == "ray":
        ray_module()  # a missing extra fails before anything is written
    elif gpus_per_run:
        raise ConfigError("--gpus-per-run is for the ray backend (local runs share the GPUs)")

    report = SweepReport(sweep)
    started = datetime.now().isoformat(timespec="seconds")
    total = len(sweep.cells)
    with _sweep_lock(sweep.logdir):
        for cell in sweep.cells:  # state again, under the lock
            cell.state = existing_state(cell, sweep.published)
        disable = None if show_progress is None else not show_progress  # None: on a terminal
        bar = tqdm(total=total, unit="run", desc="sweep", disable=disable)
        finished = 0

        def done(cell: Cell, result: dict[str, Any]) -> None:
            nonlocal finished
            finished += 1
            report.results[str(cell.run_dir)] = result
            tqdm.write(_result_line(finished, total, cell, result), file=sys.stdout)
            sys.stdout.flush()
            bar.update(1)
            write_manifest(report, backend, started)

        try:
            for cell in sweep.cells:
                if cell.state in ("finished", PUBLISHED):
                    status = "skipped" if cell.state == "finished" else PUBLISHED
                    done(cell, {"run_dir": str(cell.run_dir), "status": status})
            todo = [cell for cell in sweep.cells if cell.state not in ("finished", PUBLISHED)]
            todo = run_order(sweep, todo)
            write_manifest(report, backend, started)
            if todo and backend == "local":
                device = sweep.options.get("device") or "auto"
                gpus = cuda_devices(device)
                cores = available_cores()
                default = min(cores, 4 * gpus) if gpus else cores
                parallel = min(len(todo), max_parallel or default)
                threads = cpus_per_run or max(1, cores // parallel)
                spread = gpus if device in ("auto", "cuda") else 0  # cuda:N stays on N
                report.interrupted = not run_local(todo, done, parallel, threads, spread)
            elif todo:
                report.interrupted = not run_ray(
                    todo,
                    done,
                    address,
                    max_parallel,
                    cpus_per_run,
                    gpus_per_run,
                    sweep.options.get("device") or "auto",
                )
        finally:
            bar.close()
    return report


def summary(report: SweepReport) -> str:
    counts: dict[str, int] = {}
    for result in report.results.values():
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    pending = len(report.sweep.cells) - len(report.results)
    if pending:
        counts["not run"] = pending
    text = ", ".join(f"{n} {status}" for status, n in counts.items())
    return (
        f"sweep: {len(report.sweep.cells)} runs: {text}; manifest {report.sweep.logdir / MANIFEST}"
    )
