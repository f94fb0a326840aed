"""Whether a run compiles its optimizer steps (the run's ``compile_optimizer`` setting).

:func:`wnrl.nn.fastpath.compile_optimizer_step` turns an optimizer's per-tensor passes into
fused loops (``torch.compile``); the first update then compiles for seconds, and every change
of the learning rate compiles again. ``auto`` (the default) therefore compiles only where that
cannot cost more than it saves:

* on the CPU (where it was measured; docs/performance.md);
* when the rest of the run makes at least :data:`~wnrl.names.COMPILE_MIN_UPDATES` gradient
  updates (:func:`expected_updates`);
* with a constant learning rate (SB3 writes the schedule's value into the optimizer before
  every update: a changing value would recompile);
* for optimizers without a fused kernel (``fused=True`` is one kernel per step already);
* where torch can compile at all here: a C++ compiler, and a tiny function compiled and run
  once (:func:`compiler_works`; inductor also needs Python's headers).

``on`` compiles every optimizer of the policy (a ConfigError where nothing compiles; a warning
with a learning-rate schedule: torch compiles it again for each new rate, up to its recompile
limit of 8 per process, then runs it eagerly); ``off`` none. The setting changes how the update
is computed, not what: parameters move as with the eager step, to float rounding (tested
against SB3's own update).
"""

from __future__ import annotations

import functools
import math
import os
import random
import shutil
from typing import TYPE_CHECKING, Any

import torch

from wnrl.errors import ConfigError
from wnrl.names import COMPILE_MIN_UPDATES
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


@functools.cache
def compiler_works(device: str) -> bool:
    """Whether ``torch.compile`` builds and runs a tiny function on ``device`` here (once per
    process and device): a compiler on PATH is not enough (inductor also needs Python's
    headers on the CPU, triton on CUDA)."""
    if device == "cpu" and cpp_compiler() is None:
        return False
    scale = 1.0 + random.random()  # a constant of its own: no cached build can stand in
    try:
        probe = torch.compile(lambda x: x * scale + 1.0, dynamic=False)
        return bool(probe(torch.ones(4, device=device)).eq(scale + 1.0).all())
    except Exception:  # any failure to build or run: torch.compile does not work here
        return False


def expected_updates(model: BaseAlgorithm, steps: int) -> int:
    """About how many gradient updates ``model`` makes in ``steps`` more env steps (SB3's
    ``train_freq``, ``gradient_steps`` and ``learning_starts``; PPO's epochs and minibatches)."""
    n_envs = max(1, model.n_envs)
    if hasattr(model, "train_freq"):  # off-policy: an update every train_freq steps per env
        every = max(1, int(model.train_freq.frequency))
        per_rollout = model.gradient_steps if model.gradient_steps > 0 else every * n_envs
        waiting = max(0, model.learning_starts - model.num_timesteps)
        return max(0, steps - waiting) // (every * n_envs) * per_rollout
    rollout = model.n_steps * n_envs  # on-policy: epochs x minibatches per rollout
    minibatches = math.ceil(rollout / getattr(model, "batch_size", rollout) or rollout)
    return steps // rollout * getattr(model, "n_epochs", 1) * minibatches


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


def _auto_compiles(model: BaseAlgorithm, config: dict[str, Any]) -> bool:
    """Whether ``auto`` compiles this run's optimizers (see the module doc); the cheap
    conditions first, the probe compile last."""
    remaining = config["n_timesteps"] - model.num_timesteps
    return (
        model.device.type in COMPILE_DEVICES
        and expected_updates(model, remaining) >= COMPILE_MIN_UPDATES
        and constant_learning_rate(model)
        and compiler_works(model.device.type)
    )


def optimizers_to_compile(
    model: BaseAlgorithm, config: dict[str, Any]
) -> list[torch.optim.Optimizer]:
    """The optimizers the run's ``compile_optimizer`` setting compiles (see the module doc)."""
    choice = config["compile_optimizer"]
    if choice == "off":
        return []
    if choice == "on":
        require_cpp_compiler()
        if not compiler_works(model.device.type):
            raise ConfigError(
                f"--compile-optimizer on: torch.compile does not work on {model.device.type} "
                "here (it failed to build a test function); use --compile-optimizer off"
            )
        return policy_optimizers(model)
    if not _auto_compiles(model, config):
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
    note = (
        f"compiling the {names} step (torch.compile): the first update takes longer "
        "(--compile-optimizer off skips it)"
    )
    if not constant_learning_rate(model):
        note += (
            "; warning: the learning rate changes every update, and each new rate compiles "
            "again (torch stops after 8 and runs the step eagerly)"
        )
    return note
