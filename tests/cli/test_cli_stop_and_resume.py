"""Stopping ``wnrl train``: SIGINT, SIGTERM and SIGHUP checkpoint and exit with the signal's
status and a resume hint; ``kill -9`` loses at most one checkpoint interval; ``--resume``
continues the run (its exploration schedule and TensorBoard curves)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runs import only_run_dir, tensorboard_scalars
from stable_baselines3 import DQN

from wnrl.experiment.checkpoints import latest_checkpoint
from wnrl.experiment.train import resume_run

pytestmark = pytest.mark.slow  # every test trains an agent in another process


def train_until_signal(
    tmp_path: Path, signum: int, checkpoint_every: int = 100_000, wait_for: str = "events.out.*"
) -> tuple[subprocess.Popen, str, Path]:
    """Start a long CLI run, send ``signum`` once ``wait_for`` exists in the run directory
    (and 2 s more of training); returns (process, stderr, run directory)."""
    args = [
        sys.executable, "-m", "wnrl", "train", "dqn", "CartPole-v1", "--steps", "200000",
        "--seed", "5", "--eval-every", "0", "--checkpoint-every", str(checkpoint_every),
        "--hp", "learning_starts=100", "train_freq=4", "gradient_steps=1",
        "--logdir", str(tmp_path), "--no-progress-bar",
    ]  # fmt: skip
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not list(tmp_path.glob(f"*/*/{wait_for}")):
        time.sleep(0.2)
    time.sleep(2.0)  # let it train a little
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    return process, err, only_run_dir(tmp_path)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_save_a_loadable_checkpoint(tmp_path: Path, signum, code) -> None:
    """``kill`` and a closed terminal (SIGHUP) stop the run with a checkpoint, the shell's
    exit status of that signal and one line saying how to resume."""
    process, err, run_dir = train_until_signal(tmp_path, signum)
    assert process.returncode == code, err
    assert f"{signal.Signals(signum).name} at step" in err and "Traceback" not in err
    assert "resume with: wnrl train --resume" in err
    checkpoint = latest_checkpoint(run_dir)
    assert DQN.load(checkpoint / "model.zip").num_timesteps == int(checkpoint.name[5:])


def test_kill_9_loses_at_most_one_checkpoint_interval(tmp_path: Path) -> None:
    process, _, run_dir = train_until_signal(
        tmp_path, signal.SIGKILL, checkpoint_every=1000, wait_for="checkpoints/latest"
    )
    assert process.returncode == -signal.SIGKILL
    checkpoint = latest_checkpoint(run_dir)  # complete, whatever moment the kill came
    saved = DQN.load(checkpoint / "model.zip")
    assert saved.num_timesteps == int(checkpoint.name[5:]) >= 1000
    target = saved.num_timesteps + 200
    result = resume_run(run_dir, steps=target, progress="none")
    assert result.status == "finished" and target <= result.num_timesteps < target + 4
    assert not list((run_dir / "checkpoints").glob(".step-*"))  # no half-written leftovers


def test_sigint_saves_a_checkpoint_and_resume_continues_the_run(tmp_path: Path) -> None:
    process, err, run_dir = train_until_signal(tmp_path, signal.SIGINT)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0 and "resume with: wnrl train --resume" in err
    checkpoint = latest_checkpoint(run_dir)
    stopped_at = int(checkpoint.name.split("-")[1])
    assert 100 < stopped_at < 200_000
    saved = DQN.load(checkpoint / "model.zip")
    assert saved.num_timesteps == stopped_at
    assert (checkpoint / "replay_buffer.pkl").is_file()

    target = stopped_at + 300  # SB3 stops at the end of a rollout (train_freq=4 steps here)
    result = resume_run(run_dir, steps=target, progress="none")
    assert result.status == "finished" and target <= result.num_timesteps < target + 4
    final = DQN.load(run_dir / "model.zip")
    assert final.num_timesteps == result.num_timesteps
    assert final.exploration_rate == pytest.approx(
        max(0.04, 1 - (1 - 0.04) * final.num_timesteps / (0.16 * target)), abs=0.01
    )  # the exploration schedule continued over the same total, not restarted
    # the same TensorBoard run: the resumed session's events continue the step count
    steps = [step for step, _ in tensorboard_scalars(run_dir).get("train/loss", [])]
    assert steps and max(steps) > stopped_at
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 2
