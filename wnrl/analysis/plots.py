"""Learning-curve figures: one PNG per env, the mean over seeds with a band of one std."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wnrl.analysis.reference_scores import MINATAR_RANDOM, PAPER_DQN
from wnrl.analysis.runs import METRICS, Run, game_name
from wnrl.envs.minatar import is_minatar_id

NORM_COLORS = {
    "none": "tab:gray",
    "wn": "tab:blue",
    "wn+mobn": "tab:green",
    "wn+proj": "tab:purple",
    "ln": "tab:orange",
    "bn": "tab:red",
}


FIGSIZE = (8.0, 5.0)  # inches


DPI = 100  # -> 800 x 500 pixel PNGs


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


def plot_env(
    env: str,
    groups: dict[tuple[str, str, str], list[Run]],
    path: Path,
    metric: str = "eval",
    paper: bool = False,
) -> Path:
    """The learning curves of one env: one line per agent-norm, a +-std band over seeds."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    try:
        agents = sorted({agent for (e, agent, _) in groups if e == env})
        styles = ["-", "--", ":", "-."]
        frames_per_step = 1
        for (e, agent, norm), runs in groups.items():
            if e != env:
                continue
            frames_per_step = runs[0].frames_per_step
            steps, mean, std, _ = mean_curve(runs)
            color = NORM_COLORS.get(norm)
            style = styles[agents.index(agent) % len(styles)]
            label = f"{agent} {norm} (n={len(runs)})"
            marker = "o" if len(steps) <= 60 else None
            axes.plot(steps, mean, style, color=color, label=label, marker=marker, markersize=2.5)
            axes.fill_between(steps, mean - std, mean + std, color=color, alpha=0.2, lw=0)
        if paper and is_minatar_id(env):
            chance = MINATAR_RANDOM.get(game_name(env))
            if chance is not None:
                axes.axhline(chance, color="black", ls=":", lw=0.9, label="random policy")
        elif paper:
            reference = PAPER_DQN.get(game_name(env))
            if reference is not None:
                axes.axhline(reference[0], color="tab:gray", ls="--", lw=0.8, label="paper DQN")
                axes.axhline(reference[1], color="tab:blue", ls="--", lw=0.8, label="paper DQN+WN")
        k = frames_per_step
        top = axes.secondary_xaxis("top", functions=(lambda s: s * k, lambda f: f / k))
        top.set_xlabel("frames" + (f" (frame skip {k})" if k > 1 else ""))
        axes.set_xlabel("environment steps")
        axes.set_ylabel(METRICS[metric])
        axes.set_title(env, pad=8)
        axes.grid(alpha=0.3)
        axes.legend(loc="best", fontsize="small")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=DPI)  # no bbox_inches="tight": a fixed pixel size
    finally:
        plt.close(figure)
    return path
