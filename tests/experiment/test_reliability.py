"""Runs lose nothing: kills and resumes keep every log row once, damaged checkpoints fall back,
half-written files of a killed process are discarded, a run is trained by one process at a time,
failed writes leave the last checkpoint, and a diverging run stops at its last good one."""

from __future__ import annotations

import csv
import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wnrl.cli import main
from wnrl.errors import TrainingDiverged
from wnrl.experiment.checkpoints import latest_checkpoint, verify_checkpoint
from wnrl.experiment.config import build_config
from wnrl.experiment.locks import exclusive_lock
from wnrl.experiment.rundir import LOCK
from wnrl.experiment.train import resume_run, start_run

KILL_SCRIPT = """
import os, signal, sys
from stable_baselines3.common.callbacks import BaseCallback
from wnrl.experiment.config import build_config
from wnrl.experiment.train import resume_run, start_run

class KillAt(BaseCallback):  # kill -9 at a known step: no handler, no cleanup
    def __init__(self, step):
        super().__init__()
        self.step = step
    def _on_step(self):
        if self.num_timesteps >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
        return True

mode, target, step = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "start":
    config = build_config(
        "dqn", "CartPole-v1", steps=3000, seed=0, logdir=target, eval_every=500,
        eval_episodes=2, checkpoint_every=500, hp={"learning_starts": 100},
    )
    start_run(config, progress="none", extra_callbacks=(KillAt(step),))
else:
    resume_run(target, progress="none", extra_callbacks=(KillAt(step),))
"""


def killed_at(tmp_path: Path, mode: str, target: Path, step: int) -> None:
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(script), mode, str(target), str(step)],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert run.returncode == -9, run.stderr[-2000:]


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def progress_steps(run_dir: Path) -> list[int]:
    return [int(float(r["time/total_timesteps"])) for r in rows(run_dir / "progress.csv")]


def tensorboard_steps(run_dir: Path, tag: str) -> list[int]:
    accumulator = EventAccumulator(str(run_dir))  # the directory: all sessions, purges applied
    accumulator.Reload()
    return [event.step for event in accumulator.Scalars(tag)]


def snapshot(run_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


@pytest.fixture(scope="module")
def killed_once(tmp_path_factory) -> Path:
    """A DQN CartPole run killed with SIGKILL at step 1,700 (checkpoints every 500)."""
    tmp_path = tmp_path_factory.mktemp("killed")
    logdir = tmp_path / "runs"
    killed_at(tmp_path, "start", logdir, 1700)
    (run_dir,) = logdir.glob("*/*")
    return run_dir


@pytest.fixture
def killed_run(killed_once: Path, tmp_path: Path) -> Path:
    """A copy of that killed run, for one test to resume or damage."""
    run_dir = tmp_path / "runs" / killed_once.parent.name / killed_once.name
    shutil.copytree(killed_once, run_dir)
    return run_dir


@pytest.mark.slow
def test_kills_and_resumes_keep_every_log_row_once(killed_run: Path, tmp_path: Path) -> None:
    run_dir = killed_run
    assert latest_checkpoint(run_dir).name == "step-000001500"
    first = [r for r in rows(run_dir / "progress.csv") if float(r["time/total_timesteps"]) <= 1500]
    assert max(progress_steps(run_dir)) > 1500  # rows past the checkpoint, to be dropped
    killed_at(tmp_path, "resume", run_dir, 2600)  # a second kill, after one more checkpoint
    assert main(["train", "--resume", str(run_dir)]) == 0
    steps = progress_steps(run_dir)
    assert steps == sorted(steps), "rows in step order: nothing folds back"
    table = [tuple(r.items()) for r in rows(run_dir / "progress.csv")]
    assert len(table) == len(set(table)), "no row twice"
    assert steps[-1] >= 2900
    kept = rows(run_dir / "progress.csv")[: len(first)]
    for before, after in zip(first, kept, strict=True):  # the first session's rows, unchanged
        assert {k: v for k, v in before.items() if v} == {k: v for k, v in after.items() if v}
    evaluations = [int(r["step"]) for r in rows(run_dir / "evaluations.csv")]
    assert evaluations == sorted(set(evaluations)), evaluations  # each once, in order
    assert [s for s in evaluations if s <= 3000] == [500, 1000, 1500, 2000, 2500, 3000]
    for tag in ("rollout/ep_rew_mean", "eval/mean_reward"):
        seen = tensorboard_steps(run_dir, tag)
        assert seen == sorted(set(seen)), f"{tag} folds back: {seen}"
    assert DQN.load(run_dir / "model.zip").num_timesteps >= 3000  # whole train_freq rounds


@pytest.mark.slow
def test_a_damaged_checkpoint_falls_back_to_the_previous_one(killed_run: Path, capsys) -> None:
    run_dir = killed_run
    newest = latest_checkpoint(run_dir)
    model = newest / "model.zip"
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])  # a partial copy
    assert verify_checkpoint(newest) is not None
    assert main(["train", "--resume", str(run_dir)]) == 0
    captured = capsys.readouterr()
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "step-000001500 is damaged" in warning[0]
    assert "resuming from step-000001000" in warning[0]
    assert "at step 1,000 (step-000001000)" in captured.out
    steps = progress_steps(run_dir)
    assert steps == sorted(steps) and steps[-1] >= 2900


@pytest.mark.slow
def test_no_intact_checkpoint_fails_and_leaves_the_run_as_it_was(killed_run: Path, capsys):
    run_dir = killed_run
    for checkpoint in (run_dir / "checkpoints").glob("step-*"):
        (checkpoint / "model.zip").write_bytes(b"PK\x03\x04 broken")
    before = snapshot(run_dir)
    assert main(["train", "--resume", str(run_dir), "--steps", "5000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no intact checkpoint to resume from" in err
    assert "step-000001500: model.zip has" in err and "step-000001000" in err
    assert snapshot(run_dir) == before  # config.yaml included: --steps was not written


@pytest.mark.slow
def test_a_finished_run_is_left_as_it_was(killed_run: Path, capsys) -> None:
    run_dir = killed_run
    assert main(["train", "--resume", str(run_dir)]) == 0
    before = snapshot(run_dir)
    assert main(["train", "--resume", str(run_dir), "--steps", "2000"]) == 2
    assert "already reached" in capsys.readouterr().err
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_a_run_in_use_is_refused(killed_run: Path, capsys) -> None:
    run_dir = killed_run
    before = snapshot(run_dir)
    with exclusive_lock(run_dir / LOCK, "held by this test"):  # another process's lock
        assert main(["train", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in use by another wnrl process (pid" in err
    assert snapshot(run_dir) == before


@pytest.mark.slow
def test_a_checkpoint_that_cannot_be_written_keeps_the_previous_one(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """The disk fills up while the second checkpoint is being written: the run stops with one
    line (exit 1), the first checkpoint and ``latest`` are intact, nothing is half-written."""
    saves = []
    original = DQN.save

    def save(self, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:
            Path(path).write_bytes(b"PK\x03\x04 partial")  # part of the file, then no space
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(DQN, "save", save)
    argv = [
        "train", "dqn", "CartPole-v1", "--steps", "2000", "--checkpoint-every", "500",
        "--hp", "learning_starts=100", "--logdir", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "cannot write checkpoint step-000001000" in err and "No space left on device" in err
    assert "the last complete checkpoint (step-000000500) is intact" in err
    (run_dir,) = tmp_path.glob("*/*")
    checkpoints = run_dir / "checkpoints"
    assert latest_checkpoint(run_dir).name == "step-000000500"
    assert verify_checkpoint(checkpoints / "step-000000500") is None
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest", "step-000000500"]
    monkeypatch.setattr(DQN, "save", original)  # space again: the run resumes from it
    assert main(["train", "--resume", str(run_dir)]) == 0


def test_a_run_directory_that_cannot_be_created_is_one_line(capsys) -> None:
    argv = ["train", "dqn", "CartPole-v1", "--steps", "100", "--logdir", "/proc/nope"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("wnrl: error: cannot create run directory /proc/nope/")
        and err.count("\n") == 1
    )


@pytest.mark.slow
def test_a_run_stopped_after_its_last_step_is_finished_by_resume(tmp_path: Path, capsys):
    """A stop between the final checkpoint and model.zip: resume makes that checkpoint the
    final model instead of refusing ("nothing to resume") forever."""
    argv = [
        "train", "dqn", "CartPole-v1", "--steps", "1000", "--checkpoint-every", "500",
        "--hp", "learning_starts=100", "--logdir", str(tmp_path),
    ]  # fmt: skip
    assert main(argv) == 0
    (run_dir,) = tmp_path.glob("*/*")
    (run_dir / "model.zip").unlink()
    newest = latest_checkpoint(run_dir)
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert "is at the final step" in capsys.readouterr().out
    assert (run_dir / "model.zip").read_bytes() == (newest / "model.zip").read_bytes()
    assert main(["train", "--resume", str(run_dir)]) == 2  # now finished: nothing to resume


class Corrupt(BaseCallback):
    """Turns a parameter into NaN at a given step (a diverging run, for the test)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        if self.num_timesteps == self.at:
            with torch.no_grad():
                next(self.model.policy.q_net.parameters()).fill_(float("nan"))
        return True


@pytest.mark.slow
def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    config = build_config(
        "dqn", "CartPole-v1", steps=2000, seed=0, logdir=tmp_path, eval_every=0,
        checkpoint_every=400, hp={"learning_starts": 100, "train_freq": 4, "gradient_steps": 1},
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match="step-000000800"):
        start_run(config, progress="none", extra_callbacks=(Corrupt(at=1000),))
    (run_dir,) = tmp_path.glob("*/*")
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint.name == "step-000000800"
    assert not (run_dir / "model.zip").exists()
    model = DQN.load(checkpoint / "model.zip")
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())


@pytest.mark.slow
def test_resume_discards_what_a_killed_process_left_half_written(tmp_path: Path) -> None:
    """kill -9 can land inside a checkpoint write; the next resume removes the temporaries
    (the complete checkpoint and model are kept) even if it writes no checkpoint itself."""
    config = build_config(
        "dqn", "CartPole-v1", steps=300, seed=0, logdir=tmp_path, eval_every=0,
        checkpoint_every=256, hp={"learning_starts": 50},
    )  # fmt: skip
    first = start_run(config, progress="none")
    run_dir = first.run_dir
    kept = latest_checkpoint(run_dir)
    partial = [
        run_dir / "checkpoints" / ".step-000000400.x1y2" / "model.zip",
        run_dir / "checkpoints" / ".latest.abc",
        run_dir / ".model.q9.zip",
        run_dir / ".config.yaml.k3j",
    ]
    for path in partial:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK half")
    result = resume_run(run_dir, steps=first.num_timesteps + 50, progress="none")
    assert result.status == "finished"
    assert not any(path.exists() for path in partial)
    assert not (run_dir / "checkpoints" / ".step-000000400.x1y2").exists()
    assert kept.is_dir() and (run_dir / "model.zip").is_file()
