"""Benchmark: the cost of weight normalization on the act path and the train step.

Builds each network three ways: plain, with wnrl's WN layers (``wnrl.layers.weight_norm``, with
the inference cache on, as the wnrl policies set it on their acting networks) and
with torch's ``torch.nn.utils.parametrizations.weight_norm``, and times two workloads, side by
side in one run (rounds alternate plain / wnrl / torch, so drifts in machine speed hit all
three alike):

* act: batch 1, no grad, eval mode (the call made once per environment step);
* train: batch 32, forward + MSE backward + Adam step.

Prints the median time per call and each variant's ratio to plain (the median of the per-round
ratios: a round's variants run back to back). Targets for wnrl: act and train <= 1.05x.

    python scripts/bench_layers.py [--threads 2] [--rounds 15] [--calls 40]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import parametrizations

from wnrl.experiment.demo import nature_q_network as nature_cnn
from wnrl.layers import enable_inference_cache, weight_norm


def mlp(width: int, n_in: int = 8, n_out: int = 4) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_in, width),
        nn.Tanh(),
        nn.Linear(width, width),
        nn.Tanh(),
        nn.Linear(width, n_out),
    )


def torch_weight_norm(module: nn.Module) -> nn.Module:
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            parametrizations.weight_norm(layer)
    return module


def wnrl_weight_norm(module: nn.Module) -> nn.Module:
    module = weight_norm(module)
    enable_inference_cache(module)
    return module


def act_workload(net: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    net.eval()

    def run() -> None:
        with torch.no_grad():
            net(x).argmax(dim=1)

    return run


def train_workload(net: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    net.train()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-4)
    target = torch.zeros(x.shape[0], net(x).shape[1])

    def run() -> None:
        loss = nn.functional.mse_loss(net(x), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def measure(
    workloads: dict[str, Callable[[], None]], rounds: int, calls: int
) -> dict[str, list[float]]:
    """Seconds per call of each workload in every round, rounds interleaved (A B C A B C ...)."""
    for run in workloads.values():  # warm-up
        for _ in range(max(3, calls // 4)):
            run()
    samples: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, run in workloads.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            samples[name].append((time.perf_counter() - start) / calls)
    return samples


def paired_ratio(samples: list[float], baseline: list[float]) -> float:
    """Median over rounds of the per-round ratio: each round's pair ran back to back, so a
    slow spell of the machine cancels out of it."""
    return statistics.median(a / b for a, b in zip(samples, baseline, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--calls", type=int, default=20, help="calls per round and variant")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    networks: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
        "NatureCNN": (nature_cnn, (4, 84, 84)),
        "MLP 64-64": (lambda: mlp(64), (8,)),
        "MLP 256-256": (lambda: mlp(256), (8,)),
    }
    variants = {"plain": lambda m: m, "wnrl": wnrl_weight_norm, "torch-wn": torch_weight_norm}
    print(f"torch {torch.__version__}, {args.threads} threads, {args.rounds} paired rounds")
    print(f"{'network':<12} {'workload':<6} " + " ".join(f"{v:>16}" for v in variants))
    for net_name, (build, shape) in networks.items():
        for work_name, batch, make in (("act", 1, act_workload), ("train", 32, train_workload)):
            x = torch.randn(batch, *shape)
            workloads = {}
            for variant, convert in variants.items():
                torch.manual_seed(0)
                workloads[variant] = make(convert(build()), x)
            samples = measure(workloads, args.rounds, args.calls)
            cells = [
                f"{statistics.median(samples[v]) * 1e3:7.3f}ms "
                f"{paired_ratio(samples[v], samples['plain']):5.2f}x"
                for v in variants
            ]
            print(f"{net_name:<12} {work_name:<6} " + " ".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
