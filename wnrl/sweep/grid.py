"""The grid of a sweep: env x norm x seed, one validated configuration and run directory per cell.

Every cell's configuration is built with :func:`wnrl.experiment.config.build_config` before anything
runs, so a bad suite, env, agent, norm, preset or hyperparameter is one :class:`ConfigError` and no
run starts. Run directories are deterministic (``<logdir>/<env>/<agent>-<norm>-s<seed>/``), so
re-running the same sweep finds them: finished cells are skipped, interrupted ones resumed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wnrl.envs.ids import canonical_env_id
from wnrl.errors import ConfigError
from wnrl.experiment.config import action_space_name, build_config
from wnrl.experiment.presets import ACTION_SPACES, check_agent, suite, suite_names
from wnrl.experiment.run_state import run_state
from wnrl.experiment.rundir import (
    CONFIG,
    computed_settings,
    env_slug,
    evaluation_rows,
    read_config,
    run_name,
)

MANIFEST = "sweep.yaml"


LOCK = ".sweep.lock"


#: cell statuses that count as success
OK_STATUSES = ("finished", "resumed", "skipped", "published")
#: the state of a cell whose finished run is in the sweep's published raw data (``--published``)
PUBLISHED = "published"


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


def expand_targets(targets: Sequence[str]) -> dict[str, str | None]:
    """Canonical env id -> the suite it came from (None: named on its own)."""

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

    name = action_space_name(env)
    if name in ACTION_SPACES[agent]:
        return None
    return f"{agent} needs {' or '.join(ACTION_SPACES[agent])} actions, {env} has {name}"


def log_path(run_dir: Path) -> Path:
    """A run's own output (stdout, stderr, tracebacks): ``<run_dir>.log``, beside the run
    directory (``wnrl train`` wants its directory to itself)."""
    return run_dir.with_name(run_dir.name + ".log")


def cell_dir(logdir: Path, env_id: str, agent: str, norm: str, seed: int) -> Path:
    """The deterministic run directory of one cell: ``<logdir>/<env>/<agent>-<norm>-s<seed>``."""
    return Path(logdir) / env_slug(env_id) / run_name(agent, norm, seed)


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
    state: str = "new"  # what an earlier sweep left: wnrl.experiment.run_state.STATES

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
    #: a study's committed raw data (config.yaml, evaluations.csv per run, the logdir's layout)
    published: Path | None = None


def _same_configuration(run_dir: Path, cell: Cell) -> None:
    """A ConfigError if ``run_dir`` holds a run configured otherwise than ``cell``."""
    old = computed_settings(read_config(run_dir / CONFIG))
    new = computed_settings(cell.config)
    if old != new:
        keys = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
        raise ConfigError(
            f"{run_dir} holds a run with a different configuration ({', '.join(keys)} "
            "differ); use another --logdir, or the same options as before"
        )


def published_run(cell: Cell, published: Path) -> bool:
    """Whether ``published`` (a study's committed raw data, laid out as the logdir) holds the
    cell's run, finished: the same configuration, evaluated at its last step."""
    run_dir = cell_dir(published, cell.env, cell.config["agent"], cell.norm, cell.seed)
    if not (run_dir / CONFIG).is_file():
        return False
    _same_configuration(run_dir, cell)
    rows = evaluation_rows(run_dir)
    return bool(rows) and float(rows[-1]["step"]) >= cell.config["n_timesteps"]


def existing_state(cell: Cell, published: Path | None = None) -> str:
    """What an earlier sweep left in the cell's directory (:data:`PUBLISHED` for a run found
    finished in ``published`` instead, on a machine without the logdir); a ConfigError if it
    is another run."""
    if not (cell.run_dir / CONFIG).is_file():
        return PUBLISHED if published is not None and published_run(cell, published) else "new"
    _same_configuration(cell.run_dir, cell)
    return run_state(cell.run_dir, verify=False).kind  # the worker verifies before it resumes


def plan_sweep(
    targets: Sequence[str],
    agent: str = "dqn",
    norms: Sequence[str] = ("none", "wn"),
    seeds: Sequence[int] = (0, 1, 2),
    logdir: str | Path | None = None,
    preset: str | None = None,
    steps: int | None = None,
    hp: dict[str, Any] | None = None,
    published: str | Path | None = None,
    **train_options: Any,
) -> Sweep:
    """Expand and validate the grid env x norm x seed (nothing is written).

    ``train_options`` go to :func:`wnrl.experiment.config.build_config` (``n_envs``,
    ``device``, ``ddi``, ``eval_every``, ``eval_episodes``, ``checkpoint_every``, ``backend``).
    ``published``: a study's committed raw data; a cell whose finished run is there counts as
    done (:func:`published_run`).
    """
    published = Path(published) if published is not None else None
    if published is not None and not published.is_dir():
        raise ConfigError(f"--published: no such directory: {published}")

    agent = check_agent(agent)
    skipped: list[str] = []
    envs = []
    for env, from_suite in expand_targets(targets).items():
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
                cell.state = existing_state(cell, published)
                cells.append(cell)
    options = {"steps": steps, "hp": hp or {}, **train_options}
    return Sweep(
        logdir, agent, preset, envs, list(norms), list(seeds), options, cells, skipped, published
    )
