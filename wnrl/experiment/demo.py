"""``wnrl demo``: the paper's data-dependent initialization on real Atari frames.

Builds the DQN Q-network of Mnih et al. (2015) (paper sec. 5.4) with weight-normalized layers,
starts it as the paper does (v ~ N(0, 0.05^2), g = 1, b = 0; sec. 3), collects a minibatch of
real preprocessed Breakout frames with random actions, runs :func:`wnrl.layers.data_dependent_init`
on it and prints, per layer, the pre-activation statistics it measured and the resulting g,
then checks the result on the init batch and on a held-out batch.
"""

from __future__ import annotations

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from torch import nn

from wnrl.envs.factory import make_env
from wnrl.nn.convert import weight_norm, weight_norm_layers
from wnrl.nn.initialization import data_dependent_init, paper_init_


def nature_q_network(n_actions: int = 4) -> nn.Sequential:
    """Mnih et al. (2015): Conv 32x8x8/4, Conv 64x4x4/2, Conv 64x3x3/1, FC 512, FC n_actions."""
    return nn.Sequential(
        nn.Conv2d(4, 32, 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3136, 512),
        nn.ReLU(),
        nn.Linear(512, n_actions),
    )


def collect_frames(env_id: str, n_frames: int, seed: int) -> tuple[torch.Tensor, int]:
    """``n_frames`` stacked 4x84x84 observations from random play, scaled to [0, 1]."""

    n_envs = 8
    env = make_env(env_id, n_envs=n_envs, seed=seed)
    rng = np.random.default_rng(seed)
    frames = [env.reset()]
    while sum(len(f) for f in frames) < n_frames:
        actions = rng.integers(env.action_space.n, size=n_envs)
        frames.append(env.step(actions)[0])
    env.close()
    batch = np.concatenate(frames)[:n_frames]
    return torch.as_tensor(batch, dtype=torch.float32) / 255.0, int(env.action_space.n)


def output_statistics(net: nn.Module, batch: torch.Tensor) -> dict[str, tuple[float, float]]:
    """Mean over units of |mean| and of std of every WN layer's output on ``batch``."""
    result: dict[str, tuple[float, float]] = {}
    hooks = []
    for name, layer in weight_norm_layers(net):

        def hook(module: nn.Module, inputs: object, out: torch.Tensor, name: str = name) -> None:
            dims = [0, *range(2, out.dim())]
            result[name] = (
                out.mean(dims).abs().mean().item(),
                out.std(dims, unbiased=False).mean().item(),
            )

        hooks.append(layer.register_forward_hook(hook))
    with torch.no_grad():
        net(batch)
    for handle in hooks:
        handle.remove()
    return result


def run_demo(
    env_id: str = "ALE/Breakout-v5",
    n_samples: int = 256,
    head_scale: float = 1.0,
    seed: int = 0,
    console: Console | None = None,
) -> dict[str, tuple[float, float]]:
    """Run the demo, print its tables; returns the held-out batch's per-layer statistics."""
    console = console or Console()
    torch.manual_seed(seed)
    frames, n_actions = collect_frames(env_id, 2 * n_samples, seed)
    init_batch, held_out = frames[:n_samples], frames[n_samples:]
    net = paper_init_(weight_norm(nature_q_network(n_actions)))
    names = [name for name, _ in weight_norm_layers(net)]
    stats = data_dependent_init(net, init_batch, init_scale={names[-1]: head_scale})

    table = Table(title=f"Data-dependent init (paper sec. 3) on {n_samples} {env_id} frames")
    for column in ("layer", "type", "units", "mu[t] (mean |.|)", "sigma[t] (mean)", "g (mean)"):
        table.add_column(escape(column), justify="right" if column != "type" else "left")
    layers = dict(weight_norm_layers(net))
    for name, s in stats.items():
        table.add_row(
            name,
            s.kind,
            str(s.mean.numel()),
            f"{s.mean.abs().mean():.4f}",
            f"{s.std.mean():.4f}",
            f"{layers[name].g.mean():.4f}",
        )
    console.print(table)

    after = output_statistics(net, init_batch)
    held = output_statistics(net, held_out)
    check = Table(title="Pre-activations after the init: target mean 0, std init_scale")
    for column in ("layer", "init_scale", "init batch |mean|", "std", "held-out |mean|", "std"):
        check.add_column(column, justify="right")
    for name, s in stats.items():
        check.add_row(
            name,
            f"{s.init_scale:g}",
            f"{after[name][0]:.2e}",
            f"{after[name][1]:.4f}",
            f"{held[name][0]:.3f}",
            f"{held[name][1]:.3f}",
        )
    console.print(check)
    return held
