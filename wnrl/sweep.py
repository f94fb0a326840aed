"""``wnrl sweep``: many ``wnrl train`` runs over a grid env x norm x seed, locally or on Ray.

::

    wnrl sweep classic --agent dqn --norm none,wn --seeds 3 --steps 50000
    wnrl sweep atari-paper --agent dqn --preset paper --norm none,wn --backend ray --address auto

* **Grid.** Each positional argument is an env suite (``envs/<name>.yaml``: ``classic``,
  ``atari-paper``, ...) or an environment id; ``--norm`` a comma list; ``--seeds N`` the seeds
  ``0..N-1`` (or an explicit comma list such as ``--seeds 1,4,7``).
* **Validated up front.** Every cell's configuration is built with
  :func:`wnrl.train.build_config` before anything runs, so an unknown suite, env, agent, norm,
  preset or hyperparameter is a one-line :class:`~wnrl.errors.ConfigError` (CLI exit code 2)
  and no run starts. A cell whose run directory already holds a run with a different
  configuration (other ``--steps``, ``--hp``, preset...) is also refused up front.
* **Run directories.** One per cell, deterministic, so that re-running the same command finds
  them: ``<logdir>/<env>/<agent>-<norm>-s<seed>/`` (``/`` in the env id becomes ``-``), with
  exactly the layout of ``wnrl train`` (config.yaml, TensorBoard events, evaluations.csv,
  checkpoints/, model.zip); the run's own output goes to ``<run_dir>.log`` beside it.
  ``<logdir>/sweep.yaml`` is the manifest: the grid, the options and each cell's status,
  rewritten atomically as cells finish.
* **Re-running** the same sweep skips finished cells (``model.zip`` present), resumes
  interrupted ones from their latest checkpoint (:func:`wnrl.train.resume_run`) and restarts
  cells that died before their first checkpoint. A failed cell is reported and the others go
  on; the exit code is 0 when every cell succeeded, 1 when some failed, 130 after Ctrl-C (the
  running cells write a checkpoint first, so the next run resumes them).
* **Backends.** ``local`` (default): a bounded pool of worker processes (``spawn``), one
  process per run (a crash or a leak stays in its run), at most ``--max-parallel`` at a time
  (default: one per core, at most 4 per GPU when CUDA is present), each with its torch/OpenMP
  threads limited to ``--cpus-per-run`` (default: cores // parallel runs), runs spread over
  the GPUs. ``ray``: one Ray task per run asking for ``--cpus-per-run`` CPUs and
  ``--gpus-per-run`` GPUs (default: the cluster's GPUs shared evenly between the parallel
  runs); ``ray.init()`` starts Ray in-process, ``--address`` joins a cluster (the logdir must
  then be on a filesystem every node sees, and wnrl installed on every node). Ray is an
  optional extra: ``pip install 'wnrl[ray]'``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wnrl.cli_options import add_run_options
from wnrl.errors import ConfigError, TrainingDiverged, WnrlError, one_line
from wnrl.locks import exclusive_lock

MANIFEST = "sweep.yaml"
LOCK = ".sweep.lock"
#: cell statuses that count as success
OK_STATUSES = ("finished", "resumed", "skipped")
#: configuration keys that do not change what a run computes (ignored when an existing run
#: directory is compared with the cell's configuration)
_NOT_IDENTITY = ("wnrl_version", "logdir", "device")


# --------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------


def parse_list(text: str, what: str) -> list[str]:
    """``"none,wn"`` -> ``["none", "wn"]`` (order kept, duplicates dropped)."""
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ConfigError(f"{what}: empty item in {text!r}; give a comma-separated list")
    return list(dict.fromkeys(items))


def parse_seeds(text: str | int) -> list[int]:
    """``"3"`` -> seeds 0, 1, 2; ``"1,4,7"`` (a comma list, ``"5,"`` for seed 5 alone) -> those."""
    text = str(text).strip()
    try:
        if "," in text:
            seeds = [int(item) for item in text.split(",") if item.strip()]
        else:
            count = int(text)
            if count < 1:
                raise ValueError
            seeds = list(range(count))
    except ValueError:
        raise ConfigError(
            f"--seeds expects a count (3: seeds 0,1,2) or a comma list (1,4,7), got {text!r}"
        ) from None
    if not seeds or any(seed < 0 for seed in seeds):
        raise ConfigError(f"--seeds: seeds must be non-negative integers, got {text!r}")
    return list(dict.fromkeys(seeds))


def expand_targets(targets: Sequence[str]) -> list[str]:
    """Suite names and env ids -> canonical env ids (order kept, duplicates dropped)."""
    return list(_expand_targets(targets))


def _expand_targets(targets: Sequence[str]) -> dict[str, str | None]:
    """Canonical env id -> the suite it came from (None: named on its own)."""
    import difflib

    from wnrl.envs import canonical_env_id
    from wnrl.presets import suite, suite_names

    if not targets:
        raise ConfigError("sweep needs at least one env suite or environment id")
    suites = suite_names()
    envs: dict[str, str | None] = {}
    for target in targets:
        if target in suites:
            names = [str(env) for env in suite(target)["envs"]]
        else:
            names = [target]
        for name in names:
            try:
                env = canonical_env_id(name)
                if envs.get(env, target) is not None:  # named on its own wins
                    envs[env] = target if name != target else None
            except ConfigError as error:
                if name != target:  # a bad id inside a suite file
                    raise ConfigError(f"env suite {target!r}: {error}") from error
                close = difflib.get_close_matches(target, suites, n=1)
                if close:
                    raise ConfigError(
                        f"unknown env suite or environment {target!r} (did you mean suite "
                        f"{close[0]!r}?); suites: {', '.join(suites)}"
                    ) from error
                raise ConfigError(f"{error} (env suites: {', '.join(suites)})") from error
    return envs


def _action_space_fits(agent: str, env: str) -> str | None:
    """None if ``agent`` can act in ``env``, else the reason."""
    from wnrl.presets import ACTION_SPACES
    from wnrl.train import action_space_name

    name = action_space_name(env)
    if name in ACTION_SPACES[agent]:
        return None
    return f"{agent} needs {' or '.join(ACTION_SPACES[agent])} actions, {env} has {name}"


def log_path(run_dir: Path) -> Path:
    """A run's own output (stdout, stderr, tracebacks): ``<run_dir>.log``, beside the run
    directory (``wnrl train`` wants its directory to itself)."""
    return run_dir.with_name(run_dir.name + ".log")


def env_slug(env_id: str) -> str:
    return env_id.replace("/", "-")


def cell_dir(logdir: Path, env_id: str, agent: str, norm: str, seed: int) -> Path:
    """The deterministic run directory of one cell: ``<logdir>/<env>/<agent>-<norm>-s<seed>``."""
    return Path(logdir) / env_slug(env_id) / f"{agent}-{norm}-s{seed}"


def default_logdir(agent: str, targets: Sequence[str]) -> Path:
    """``runs/sweep-<agent>-<targets>``: the same command finds the same directory again."""
    name = "_".join(re.sub(r"[^A-Za-z0-9.+-]+", "-", target) for target in targets)
    return Path("runs") / f"sweep-{agent}-{name[:80]}"


@dataclass
class Cell:
    """One run of the grid."""

    env: str
    norm: str
    seed: int
    run_dir: Path
    config: dict[str, Any]
    state: str = "new"  # new | finished | resume | restart (what an earlier sweep left)

    @property
    def label(self) -> str:
        return f"{self.env} {self.config['agent']}-{self.norm}-s{self.seed}"


@dataclass
class Sweep:
    """A validated grid: every cell's configuration is built and checked."""

    logdir: Path
    agent: str
    preset: str | None
    envs: list[str]
    norms: list[str]
    seeds: list[int]
    options: dict[str, Any]
    cells: list[Cell]
    skipped_envs: list[str] = field(default_factory=list)  # suite envs the agent cannot act in


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    import yaml

    plain = yaml.safe_load(yaml.safe_dump(config))  # the form config.yaml holds
    return {key: value for key, value in plain.items() if key not in _NOT_IDENTITY}


def _existing_state(cell: Cell) -> str:
    """What an earlier sweep left in the cell's directory; a ConfigError if it is another run."""
    from wnrl.rundir import CONFIG, FINAL_MODEL, read_config

    config_path = cell.run_dir / CONFIG
    if not config_path.is_file():
        return "new"
    old = _identity(read_config(config_path))
    new = _identity(cell.config)
    if old != new:
        keys = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
        raise ConfigError(
            f"{cell.run_dir} holds a run with a different configuration ({', '.join(keys)} "
            "differ); use another --logdir, or the same options as before"
        )
    if (cell.run_dir / FINAL_MODEL).is_file():
        return "finished"
    return "resume" if (cell.run_dir / "checkpoints" / "latest").is_file() else "restart"


def plan_sweep(
    targets: Sequence[str],
    agent: str = "dqn",
    norms: Sequence[str] = ("none", "wn"),
    seeds: Sequence[int] = (0, 1, 2),
    logdir: str | Path | None = None,
    preset: str | None = None,
    steps: int | None = None,
    hp: dict[str, Any] | None = None,
    **train_options: Any,
) -> Sweep:
    """Expand and validate the grid env x norm x seed (nothing is written).

    ``train_options`` go to :func:`wnrl.train.build_config` (``n_envs``, ``device``, ``ddi``,
    ``eval_every``, ``eval_episodes``, ``checkpoint_every``, ``backend``).
    """
    from wnrl.presets import check_agent
    from wnrl.train import build_config

    agent = check_agent(agent)
    skipped: list[str] = []
    envs = []
    for env, from_suite in _expand_targets(targets).items():
        reason = _action_space_fits(agent, env) if from_suite is not None else None
        if reason is None:
            envs.append(env)
        else:  # a suite's env this agent cannot act in (dqn and Pendulum): leave it out
            skipped.append(f"{env} (suite {from_suite}): {reason}")
    if not envs:
        raise ConfigError(f"{agent} can act in none of the envs: {'; '.join(skipped)}")
    if not norms:
        raise ConfigError("--norm: give at least one norm")
    if not seeds:
        raise ConfigError("--seeds: give at least one seed")
    logdir = Path(logdir) if logdir is not None else default_logdir(agent, targets)
    cells = []
    for env in envs:
        for norm in norms:
            for seed in seeds:
                config = build_config(
                    agent,
                    env,
                    norm=norm,
                    preset=preset,
                    steps=steps,
                    seed=seed,
                    logdir=logdir,
                    hp=hp,
                    **train_options,
                )
                run_dir = cell_dir(logdir, config["env"], agent, config["norm"], seed)
                cell = Cell(config["env"], config["norm"], int(seed), run_dir, config)
                cell.state = _existing_state(cell)
                cells.append(cell)
    options = {"steps": steps, "hp": hp or {}, **train_options}
    return Sweep(logdir, agent, preset, envs, list(norms), list(seeds), options, cells, skipped)


# --------------------------------------------------------------------------------------------
# One cell (runs in a worker process: a local pool process or a Ray worker)
# --------------------------------------------------------------------------------------------


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
    import shutil

    from wnrl.checkpoints import CHECKPOINTS
    from wnrl.rundir import CONFIG, EVALUATIONS, PROGRESS

    if not run_dir.is_dir():
        return
    for path in [*run_dir.glob("events.out.tfevents.*"), run_dir / PROGRESS]:
        path.unlink(missing_ok=True)
    for name in (EVALUATIONS, CONFIG):
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / CHECKPOINTS, ignore_errors=True)  # no complete checkpoint in it


def _train_cell(run_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    from wnrl.checkpoints import checkpoint_step, finish_from_checkpoint, latest_checkpoint
    from wnrl.rundir import CONFIG, FINAL_MODEL
    from wnrl.train import resume_run, start_run

    if (run_dir / FINAL_MODEL).is_file():
        return {"status": "skipped"}
    checkpoint = latest_checkpoint(run_dir) if (run_dir / CONFIG).is_file() else None
    if checkpoint is not None:
        done = checkpoint_step(checkpoint)
        if done >= config["n_timesteps"]:
            print(f"checkpoint {checkpoint.name} is at the final step: using it as model.zip")
            finish_from_checkpoint(run_dir, checkpoint)
            return {"status": "finished", "num_timesteps": done}
        print(f"resuming from {checkpoint.name}", flush=True)
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
    import csv

    from wnrl.rundir import EVALUATIONS

    path = run_dir / EVALUATIONS
    if not path.is_file():
        return []
    rows: list[tuple[int, float]] = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row["step"]))
            rows = [r for r in rows if r[0] < step]
            rows.append((step, float(row["mean"])))
    return [mean for _, mean in rows]


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


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _local_worker(run_dir: str, config: dict[str, Any], threads: int, gpu: int | None, conn: Any):
    """Target of a local worker process: one cell, its result sent back through ``conn``.

    SIGTERM before training starts (while importing) ends the cell as "interrupted"; during
    training the run's own guard turns it into a checkpoint and a clean stop."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    result = run_cell(run_dir, config, threads, gpu)
    conn.send(result)
    conn.close()


# --------------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------------


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _cuda_devices(device: str) -> int:
    """GPUs the local backend spreads runs over: all of them for ``auto``/``cuda``, one for
    ``cuda:N`` (every run on that one, as asked), none for ``cpu``."""
    if device == "cpu":
        return 0
    import torch

    if device.startswith("cuda:"):
        return 1

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _failed(cell: Cell, message: str, status: str = "failed") -> dict[str, Any]:
    return {"run_dir": str(cell.run_dir), "status": status, "error": message, "seconds": 0.0}


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM to the sweep is handled like Ctrl-C (the running cells checkpoint and stop)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    import multiprocessing
    from multiprocessing.connection import wait

    context = multiprocessing.get_context("spawn")
    queue = deque(cells)
    free_slots = list(range(max_parallel))
    running: dict[int, tuple[Any, Any, Cell, int]] = {}
    interrupted = False
    with _sigterm_as_interrupt():
        while running or (queue and not interrupted):
            while queue and free_slots and not interrupted:
                cell = queue.popleft()
                slot = free_slots.pop(0)
                gpu = slot % gpus if gpus else None
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(
                    target=_local_worker,
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
                    result = _failed(
                        cell, f"worker process died (exit code {process.exitcode})", status
                    )
                done(cell, result)
    return not interrupted


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
        with _sigterm_as_interrupt():
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
                            result = _failed(cell, f"Ray task failed: {one_line(error)}")
                        done(cell, result)
            except KeyboardInterrupt:
                interrupted = True
                for ref, cell in pending.items():
                    with contextlib.suppress(Exception):
                        ray.cancel(ref)
                    done(cell, _failed(cell, "cancelled (Ctrl-C)", "interrupted"))
        return not interrupted
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


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
    import yaml

    from wnrl import __version__
    from wnrl.checkpoints import atomic_write_text

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
    from tqdm import tqdm

    if backend not in ("local", "ray"):
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
            cell.state = _existing_state(cell)
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
                if cell.state == "finished":
                    done(cell, {"run_dir": str(cell.run_dir), "status": "skipped"})
            todo = [cell for cell in sweep.cells if cell.state != "finished"]
            write_manifest(report, backend, started)
            if todo and backend == "local":
                device = sweep.options.get("device") or "auto"
                gpus = _cuda_devices(device)
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


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _cmd_sweep(args: argparse.Namespace) -> int:
    from wnrl.presets import parse_overrides

    if args.backend == "ray":
        ray_module()
    if args.address and args.backend != "ray":
        raise ConfigError("--address joins a Ray cluster: use it with --backend ray")
    sweep = plan_sweep(
        args.targets,
        agent=args.agent,
        norms=parse_list(args.norm, "--norm"),
        seeds=parse_seeds(args.seeds),
        logdir=args.logdir,
        preset=args.preset,
        steps=args.steps,
        hp=parse_overrides(args.hp),
        n_envs=args.n_envs,
        device=args.device,
        ddi=False if args.no_ddi else None,
        ddi_heads=args.ddi_heads,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every,
        backend=args.env_backend,
    )
    states = [cell.state for cell in sweep.cells]
    print(
        f"sweep {sweep.logdir}: {len(sweep.envs)} env(s) x {len(sweep.norms)} norm(s) x "
        f"{len(sweep.seeds)} seed(s) = {len(sweep.cells)} runs of {sweep.agent} "
        f"({states.count('finished')} finished before, {states.count('resume')} to resume) "
        f"on the {args.backend} backend",
        flush=True,
    )
    for line in sweep.skipped_envs:
        print(f"  left out {line}")
    if args.dry_run:
        for cell in sweep.cells:
            print(f"  {cell.state:<9} {cell.run_dir}  ({cell.config['n_timesteps']:,} steps)")
        return 0
    report = run_sweep(
        sweep,
        backend=args.backend,
        max_parallel=args.max_parallel,
        cpus_per_run=args.cpus_per_run,
        gpus_per_run=args.gpus_per_run,
        address=args.address,
    )
    print(summary(report))
    if report.interrupted:
        print("wnrl: sweep interrupted; run the same command again to resume it", file=sys.stderr)
    elif not report.failed:
        print(f"compare: wnrl compare {sweep.logdir} --out {sweep.logdir / 'compare'}")
    return report.exit_code


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``wnrl sweep`` on an argparse subparsers object (``handler`` set)."""
    parser = subparsers.add_parser(
        "sweep",
        help="many training runs: env suites x norms x seeds, local processes or Ray",
        description="Train AGENT on every env x norm x seed (each a normal `wnrl train` run "
        "in <logdir>/<env>/<agent>-<norm>-s<seed>/). Re-running the same command skips "
        "finished runs and resumes interrupted ones. Exit code 0 when every run succeeded, "
        "1 when some failed.",
    )
    parser.add_argument(
        "targets", nargs="+", metavar="SUITE|ENV", help="env suites (wnrl list) or env ids"
    )
    parser.add_argument("--agent", default="dqn", help="dqn (default), qrdqn, ppo, a2c, sac, td3")
    parser.add_argument("--preset", help="preset of agents/AGENT.yaml (default: each env's family)")
    parser.add_argument("--norm", default="none,wn", help="comma list of norms (default none,wn)")
    parser.add_argument(
        "--seeds", default="3", help="a count (3: seeds 0,1,2; the default) or a list (1,4,7)"
    )
    parser.add_argument("--steps", type=int, help="environment steps per run (default: preset's)")
    parser.add_argument("--logdir", help="sweep directory (default runs/sweep-<agent>-<targets>)")
    parser.add_argument(
        "--hp", nargs="+", default=[], metavar="KEY=VALUE", help="hyperparameter overrides"
    )
    parser.add_argument("--n-envs", type=int, help="parallel environments per run")
    parser.add_argument("--device", default="auto", help="auto (default), cpu or cuda[:N]")
    add_run_options(parser)
    parser.add_argument(
        "--env-backend", default="auto", choices=("auto", "ale", "sb3"), help="Atari env backend"
    )
    parser.add_argument(
        "--backend", default="local", choices=("local", "ray"), help="where runs go (local)"
    )
    parser.add_argument("--address", help="Ray cluster address (default: start Ray in-process)")
    parser.add_argument(
        "--max-parallel", type=int, help="runs at a time (default: cores, or what Ray fits)"
    )
    parser.add_argument(
        "--cpus-per-run", type=int, help="torch threads / Ray CPUs per run (default: a share)"
    )
    parser.add_argument(
        "--gpus-per-run", type=float, help="Ray GPUs per run, e.g. 0.25 (default: an even share)"
    )
    parser.add_argument("--dry-run", action="store_true", help="validate and list the runs only")
    parser.set_defaults(handler=_cmd_sweep)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``wnrl sweep`` on its own (``python -m wnrl.sweep``): the CLI's messages and exit codes."""
    from wnrl.cli import subcommand_main

    return subcommand_main("sweep", argv)


if __name__ == "__main__":
    raise SystemExit(main())
