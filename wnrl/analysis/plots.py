"""Figures: learning curves per env (a panel per agent, the mean over seeds with a band of one
std) and rliable's performance profiles (a panel per agent), laid out in a grid.

Each PNG records in its metadata a digest of the data it plots (:func:`data_digest`), and no
matplotlib version or date, so ``scripts/results.py --check`` can tell a figure drawn from
the committed data from one drawn from other data (or edited) without comparing pixels.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from wnrl.analysis.estimates import seeded_global_numpy
from wnrl.analysis.reference_scores import MINATAR_RANDOM, PAPER_DQN
from wnrl.analysis.runs import METRICS, Run, game_name
from wnrl.analysis.statistics import Statistics
from wnrl.envs.minatar import is_minatar_id

NORM_COLORS = {
    "none": "tab:gray",
    "wn": "tab:blue",
    "wn+mobn": "tab:green",
    "wn+proj": "tab:purple",
    "ln": "tab:orange",
    "bn": "tab:red",
}

PANEL_SIZE = (5.0, 3.6)  # inches per panel
MAX_COLUMNS = 3
DPI = 100
#: the PNG text key holding the plotted data's digest
DIGEST_KEY = "wnrl-data-digest"


def data_digest(parts: Iterable[object]) -> str:
    """SHA-256 of the plotted data: arrays by their float64 bytes, everything else by repr."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


def figure_digest(path: Path) -> str | None:
    """The data digest a PNG written by this module records, or None."""
    from PIL import Image  # matplotlib's own dependency

    with Image.open(path) as image:
        return image.text.get(DIGEST_KEY)  # type: ignore[attr-defined]


def _grid(panels: int):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    columns = min(MAX_COLUMNS, panels)
    rows = math.ceil(panels / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows), squeeze=False
    )
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    return plt, figure, list(axes.flat[:panels])


def _save(plt, figure, path: Path, digest: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    metadata = {"Software": None, DIGEST_KEY: digest}
    figure.savefig(path, dpi=DPI, metadata=metadata)  # a fixed pixel size, no bbox "tight"
    plt.close(figure)
    return path


def mean_curve(runs: Sequence[Run]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, std, seeds counted) over seeds, each seed interpolated onto the union of
    the seeds' steps inside its own range (no extrapolation)."""
    grid = np.unique(np.concatenate([run.steps for run in runs]))
    stacked = np.full((len(runs), len(grid)), np.nan)
    for i, run in enumerate(runs):
        inside = (grid >= run.steps[0]) & (grid <= run.steps[-1])
        stacked[i, inside] = np.interp(grid[inside], run.steps, run.values)
    count = np.sum(~np.isnan(stacked), axis=0)
    mean = np.nanmean(stacked, axis=0)
    std = np.nanstd(stacked, axis=0)
    return grid, mean, std, count


def _reference_lines(axes, env: str) -> None:
    if is_minatar_id(env):
        chance = MINATAR_RANDOM.get(game_name(env))
        if chance is not None:
            axes.axhline(chance, color="black", ls=":", lw=0.9, label="random policy")
        return
    reference = PAPER_DQN.get(game_name(env))
    if reference is not None:
        axes.axhline(reference[0], color="tab:gray", ls="--", lw=0.8, label="paper DQN")
        axes.axhline(reference[1], color="tab:blue", ls="--", lw=0.8, label="paper DQN+WN")


def plot_env(
    env: str,
    groups: dict[tuple[str, str, str], list[Run]],
    path: Path,
    metric: str = "eval",
    paper: bool = False,
) -> Path:
    """The learning curves of one env: a panel per agent, a line per norm with a +-std band
    over seeds; x in environment steps (frames on the top axis where they differ)."""
    agents = sorted({agent for (e, agent, _) in groups if e == env})
    plt, figure, panels = _grid(len(agents))
    parts: list[object] = [env, metric, paper]
    for axes, agent in zip(panels, agents, strict=True):
        frames_per_step = 1
        for (e, a, norm), runs in groups.items():
            if e != env or a != agent:
                continue
            frames_per_step = runs[0].frames_per_step
            steps, mean, std, _ = mean_curve(runs)
            parts += [agent, norm, steps, mean, std]
            color = NORM_COLORS.get(norm)
            marker = "o" if len(steps) <= 60 else None
            axes.plot(steps, mean, color=color, label=f"{norm} (n={len(runs)})", marker=marker,
                      markersize=2.5)  # fmt: skip
            axes.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        if paper:
            _reference_lines(axes, env)
        k = frames_per_step
        if k > 1:
            scale = (lambda s, k=k: s * k, lambda f, k=k: f / k)
            top = axes.secondary_xaxis("top", functions=scale)
            top.set_xlabel(f"frames (frame skip {k})")
        axes.set_xlabel("environment steps")
        axes.set_ylabel(METRICS[metric])
        axes.set_title(f"{env}: {agent} (mean ± std over seeds)", fontsize="medium")
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    return _save(plt, figure, path, data_digest(parts))


def plot_performance_profiles(stats: Statistics, path: Path, score_name: str = "") -> Path:
    """rliable's performance profiles (the fraction of runs whose normalized score exceeds
    tau, with 95% bootstrap bands) of one per-run score (``score_name``), a panel per agent."""
    from matplotlib.lines import Line2D  # after _grid has chosen the Agg backend
    from rliable import library, plot_utils

    agents = sorted({agent for agent, _ in stats.normalized})
    plt, figure, panels = _grid(len(agents))
    taus = np.linspace(-0.1, 1.1, 61)
    parts: list[object] = [stats.seed, taus, score_name]
    for ax, agent in zip(panels, agents, strict=True):
        methods = {norm: m for (a, norm), m in stats.normalized.items() if a == agent}
        parts += [item for norm, m in methods.items() for item in (agent, norm, m)]
        with seeded_global_numpy(stats.seed):
            profiles, cis = library.create_performance_profile(methods, taus, reps=200)
        colors = {norm: NORM_COLORS.get(norm, f"C{i}") for i, norm in enumerate(methods)}
        plot_utils.plot_performance_profiles(
            profiles, taus, performance_profile_cis=cis, colors=colors,
            xlabel="normalized score τ = (score − random) / (best − random)",
            ylabel="fraction of runs with score > τ", ax=ax, labelsize="medium",
            ticklabelsize="small",
        )  # fmt: skip
        ax.set_title(agent)
        handles = [Line2D([0], [0], color=colors[norm], lw=2) for norm in methods]
        ax.legend(handles, list(methods), loc="lower left", fontsize="small")
    if score_name:
        figure.suptitle(f"Performance profiles of the {score_name}")
    return _save(plt, figure, path, data_digest(parts))
