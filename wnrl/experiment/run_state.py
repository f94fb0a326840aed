"""What a run directory is, decided in one place: ``wnrl train --resume``, the sweep's planning
and its workers all ask :func:`run_state`.

A run directory is

* ``new``: no ``config.yaml`` (nothing was started there);
* ``finished``: its final ``model.zip`` is there (its newest intact checkpoint, if any, is still
  where ``--resume --steps N`` continues from);
* ``resume``: not finished, with an intact checkpoint: the newest whose files match their
  manifest (damaged newer ones are listed in :attr:`RunState.damaged`, skipped with a warning);
* ``restart``: started, but no checkpoint was ever completed (killed before the first): it
  starts over;
* ``damaged``: it has checkpoints and none is intact: it cannot be continued (the user decides).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wnrl.errors import WnrlError
from wnrl.experiment.checkpoints import checkpoint_step, resume_candidates, verify_checkpoint
from wnrl.experiment.rundir import CHECKPOINT_MODEL, CONFIG, FINAL_MODEL

#: the states of a run directory
STATES = ("new", "restart", "resume", "finished", "damaged")


@dataclass(frozen=True)
class RunState:
    """A run directory's state, the checkpoint to continue from and what was skipped."""

    run_dir: Path
    kind: str  # one of STATES
    checkpoint: Path | None = None  # the newest intact checkpoint
    step: int = 0  # the step it holds
    damaged: tuple[tuple[str, str], ...] = ()  # newer checkpoints skipped: (name, why)

    def warnings(self) -> list[str]:
        """One line per damaged checkpoint skipped, naming the one used instead."""
        used = self.checkpoint.name if self.checkpoint is not None else "none"
        return [
            f"checkpoint {name} is damaged ({why}); resuming from {used}"
            for name, why in self.damaged
        ]

    def no_intact_checkpoint(self) -> WnrlError:
        """The one-line error of a run whose checkpoints are all damaged."""
        listed = "; ".join(f"{name}: {why}" for name, why in self.damaged)
        return WnrlError(f"{self.run_dir} has no intact checkpoint to resume from ({listed})")


def run_state(run_dir: Path, verify: bool = True) -> RunState:
    """The state of ``run_dir`` (see the module docstring). ``verify``: check every checkpoint
    considered against its manifest (sizes and SHA-256), newest first; without it (planning a
    sweep, where reading every replay buffer would be slow) a checkpoint counts if its model
    file is there, and a finished run is not looked into."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG).is_file():
        return RunState(run_dir, "new")
    finished = (run_dir / FINAL_MODEL).is_file()
    if finished and not verify:
        return RunState(run_dir, "finished")
    damaged: list[tuple[str, str]] = []
    for candidate in resume_candidates(run_dir):
        problem = verify_checkpoint(candidate) if verify else _model_missing(candidate)
        if problem is None:
            kind = "finished" if finished else "resume"
            step = checkpoint_step(candidate)
            return RunState(run_dir, kind, candidate, step, tuple(damaged))
        damaged.append((candidate.name, problem))
    if finished:
        return RunState(run_dir, "finished", damaged=tuple(damaged))
    return RunState(run_dir, "damaged" if damaged else "restart", damaged=tuple(damaged))


def _model_missing(checkpoint: Path) -> str | None:
    return None if (checkpoint / CHECKPOINT_MODEL).is_file() else f"{CHECKPOINT_MODEL} is missing"
