"""The lines a finished ``wnrl train`` run ends with: its score beside a random policy's, and
where its files went (model, evaluations, TensorBoard curves and weight-norm diagnostics,
checkpoints), with the commands that read them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wnrl.analysis import reference_scores
from wnrl.analysis.runs import score_key
from wnrl.experiment.rundir import CHECKPOINTS, EVALUATIONS, FINAL_MODEL
from wnrl.nn.norms import uses_weight_norm


def random_score(env_id: str) -> float | None:
    """A uniformly random policy's score on ``env_id``, where it is known."""
    return reference_scores.random_score(score_key(env_id))


def run_summary(run_dir: Path, config: dict[str, Any], evaluations: list[dict[str, float]]) -> str:
    """What a finished run tells its user, one item per line."""
    lines = []
    if evaluations:
        last = evaluations[-1]
        best = max(row["mean"] for row in evaluations)
        line = f"evaluation: mean {last['mean']:.2f} at step {int(last['step']):,} (max {best:.2f})"
        chance = random_score(config["env"])
        if chance is not None:
            line += f"; a random policy scores {chance:g}"
        lines.append(line)
    diagnostics = "rollout/ep_rew_mean, train/*, eval/*"
    if uses_weight_norm(config["norm"]):
        diagnostics += ", weight_norm/* (||v||, g, g/||v|| per layer)"
    lines += [
        f"model:        {run_dir / FINAL_MODEL}   (wnrl.load, or {config['agent'].upper()}.load "
        "after import wnrl)",
        f"evaluations:  {run_dir / EVALUATIONS}",
        f"TensorBoard:  tensorboard --logdir {run_dir}   ({diagnostics})",
        f"checkpoints:  {run_dir / CHECKPOINTS}",
        f"score again:  wnrl evaluate {run_dir} --episodes 10",
    ]
    return "\n".join(lines)
