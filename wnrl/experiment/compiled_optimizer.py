"""Whether a run compiles its optimizer steps (the run's ``compile_optimizer`` setting).

:func:`wnrl.nn.fastpath.compile_optimizer_step` turns an optimizer's per-tensor passes into
fused loops (``torch.compile``); the first update then compiles for seconds, and every change
of the learning rate compiles again. ``auto`` (the default) therefore compiles only where that
cannot cost more than it saves:

* on the CPU (where it was measured; docs/performance.md);
* for runs of at least :data:`COMPILE_MIN_STEPS` environment steps;
* with a constant learning rate (SB3 writes the schedule's value into the optimizer before
  every update: a changing value would recompile);
* for optimizers without a fused kernel (``fused=True`` is one kernel per step already);
* where a C++ compiler is found (inductor builds its CPU kernels with one).

``on`` compiles every optimizer of the policy (a ConfigError without a C++ compiler); ``off``
none. The setting changes how the update is computed, not what: parameters move as with the
eager step, to float rounding (tested against SB3's own update).
"""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

import torch

from wnrl.errors import ConfigError
from wnrl.names import COMPILE_MIN_STEPS
from wnrl.nn.fastpath import compile_optimizer_step

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

#: where ``auto`` compiles
COMPILE_DEVICES = frozenset({"cpu"})
#: C++ compilers looked for when ``CXX`` is not set (inductor's CPU backend needs one)
CXX_NAMES = ("c++", "g++", "clang++")


def cpp_compiler() -> str | None:
    """The C++ compiler inductor would build with: ``$CXX`` or the first of :data:`CXX_NAMES`
    on PATH; None if there is none."""
    names = (os.environ["CXX"],) if os.environ.get("CXX") else CXX_NAMES
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def require_cpp_compiler() -> None:
    """A ConfigError if ``--compile-optimizer on`` cannot work here (no C++ compiler)."""
    if cpp_compiler() is None:
        raise ConfigError(
            "--compile-optimizer on: no C++ compiler found (torch.compile builds CPU kernels "
            "with one; install g++ or set CXX), or use --compile-optimizer off"
        )


def policy_optimizers(model: BaseAlgorithm) -> list[torch.optim.Optimizer]:
    """Every optimizer of the model's policy (DQN/PPO/A2C: one; SAC/TD3: actor and critic)."""
    found: list[torch.optim.Optimizer] = []
    for module in model.policy.modules():
        optimizer = getattr(module, "optimizer", None)
        if isinstance(optimizer, torch.optim.Optimizer) and all(optimizer is not f for f in found):
            found.append(optimizer)
    return found


def constant_learning_rate(model: BaseAlgorithm) -> bool:
    """Whether the model's learning-rate schedule gives one value over the whole run."""
    return len({float(model.lr_schedule(progress)) for progress in (1.0, 0.5, 0.0)}) == 1


def _auto_skips(model: BaseAlgorithm, config: dict[str, Any]) -> str | None:
    """Why ``auto`` does not compile this run's optimizers, or None if it does."""
    if model.device.type not in COMPILE_DEVICES:
        return f"device {model.device.type}"
    if config["n_timesteps"] < COMPILE_MIN_STEPS:
        return f"a run shorter than {COMPILE_MIN_STEPS:,} steps"
    if not constant_learning_rate(model):
        return "a learning-rate schedule"
    if cpp_compiler() is None:
        return "no C++ compiler"
    return None


def optimizers_to_compile(
    model: BaseAlgorithm, config: dict[str, Any]
) -> list[torch.optim.Optimizer]:
    """The optimizers the run's ``compile_optimizer`` setting compiles (see the module doc)."""
    choice = config.get("compile_optimizer", "off")
    if choice == "off":
        return []
    if choice == "on":
        require_cpp_compiler()
        return policy_optimizers(model)
    if _auto_skips(model, config) is not None:
        return []
    return [opt for opt in policy_optimizers(model) if not opt.defaults.get("fused")]


def compile_optimizers(model: BaseAlgorithm, config: dict[str, Any]) -> str | None:
    """Compile the optimizer steps the run's setting asks for; the line to print, or None."""
    chosen = optimizers_to_compile(model, config)
    for optimizer in chosen:
        compile_optimizer_step(optimizer)
    if not chosen:
        return None
    names = ", ".join(sorted({type(optimizer).__name__ for optimizer in chosen}))
    return (
        f"compiling the {names} step (torch.compile): the first update takes longer "
        "(--compile-optimizer off skips it)"
    )
