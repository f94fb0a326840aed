"""The ``wnrl`` command line end to end: run directories, TensorBoard, resume, signals, errors."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from wnrl.cli import main
from wnrl.errors import TrainingDiverged
from wnrl.experiment.checkpoints import latest_checkpoint
from wnrl.experiment.config import build_config
from wnrl.experiment.train import resume_run, start_run


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wnrl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def only_run_dir(root: Path) -> Path:
    runs = [p for p in root.glob("*/*") if (p / "config.yaml").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    result: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            result.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return result


def read_evaluations(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "evaluations.csv") as handle:
        return list(csv.DictReader(handle))


def test_version_and_help() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip().startswith("wnrl 0.")
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "list", "demo", "sweep", "compare"):
        assert command in result.stdout


def test_list_shows_agents_presets_norms_and_suites(capsys) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("dqn", "qrdqn", "ppo", "a2c", "sac", "td3", "paper", "wn+mobn", "atari-paper"):
        assert word in out
    assert main(["list", "--agent", "dqn"]) == 0
    assert "learning_starts: 100000" in capsys.readouterr().out


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One real CLI training run, shared by the tests that inspect or evaluate it."""
    tmp_path = tmp_path_factory.mktemp("runs")
    result = run_cli(
        "train", "dqn", "CartPole-v1", "--steps", "1200", "--seed", "3",
        "--eval-every", "600", "--eval-episodes", "2", "--checkpoint-every", "600",
        "--hp", "learning_starts=200", "train_freq=4", "gradient_steps=1",
        "--logdir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return only_run_dir(tmp_path), result


def test_train_cartpole_writes_a_complete_run_directory(cartpole_run) -> None:
    run_dir, result = cartpole_run
    assert run_dir.parent.name == "CartPole-v1" and run_dir.name.startswith("dqn-wn-s3-")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["agent"] == "dqn" and config["norm"] == "wn" and config["seed"] == 3
    assert config["hyperparams"]["learning_starts"] == 200 and config["preset"] == "classic"
    assert config["ddi"] is True
    rows = read_evaluations(run_dir)
    assert [int(r["step"]) for r in rows] == [600, 1200]
    assert all(int(r["episodes"]) == 2 and float(r["mean"]) > 0 for r in rows)
    assert (run_dir / "model.zip").is_file()
    assert latest_checkpoint(run_dir).name == "step-000001200"
    tags = tensorboard_scalars(run_dir)
    for tag in (
        "rollout/ep_rew_mean",
        "train/loss",
        "eval/mean_reward",
        "ddi/q_net/q_net.0/sigma",
        "weight_norm/q_net.q_net.0/v_norm",
        "weight_norm/q_net.q_net.2/step_scale",
        "ddi/q_net/q_net.4/sigma",  # the plain Q head is initialized, not logged
    ):
        assert tag in tags, sorted(tags)
    assert not any(tag.startswith("weight_norm/q_net.q_net.4/") for tag in tags)
    model = DQN.load(run_dir / "model.zip")
    assert model.num_timesteps == 1200
    assert "run directory" in result.stdout and "finished 1,200 steps" in result.stdout


def test_evaluate_a_run_directory_and_its_model_file(cartpole_run) -> None:
    run_dir, _ = cartpole_run
    result = run_cli("evaluate", str(run_dir), "--episodes", "3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "CartPole-v1" in result.stdout and "over 3 episodes" in result.stdout
    again = run_cli("evaluate", str(run_dir / "model.zip"), "--episodes", "3", "--seed", "1")
    assert again.stdout == result.stdout  # config.yaml beside the model; same seed, same scores
    trusted = run_cli("evaluate", str(run_dir), "--episodes", "3", "--seed", "1", "--weights-only")
    assert trusted.returncode == 0 and trusted.stdout == result.stdout


def test_evaluate_bad_inputs(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", str(tmp_path / "missing.zip")]) == 2
    assert "no such run directory or model file" in capsys.readouterr().err
    corrupt = tmp_path / "model.zip"
    corrupt.write_bytes(b"not a zip at all")
    assert main(["evaluate", str(corrupt), "--env", "CartPole-v1"]) == 2
    err = capsys.readouterr().err
    assert str(corrupt) in err and err.count("\n") == 1
    assert main(["evaluate", str(corrupt)]) == 2
    assert "give an env id" in capsys.readouterr().err


def test_train_atari_end_to_end(tmp_path: Path) -> None:
    result = run_cli(
        "train", "dqn", "breakout", "--preset", "quick", "--steps", "300", "--seed", "0",
        "--eval-every", "300", "--eval-episodes", "1", "--checkpoint-every", "0",
        "--hp", "learning_starts=100", "buffer_size=500",
        "policy_kwargs.features_extractor_kwargs={features_dim: 64}",
        "--logdir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run_dir = only_run_dir(tmp_path)
    assert run_dir.parent.name == "ALE-Breakout-v5"
    rows = read_evaluations(run_dir)
    assert len(rows) == 1 and int(rows[0]["frames"]) == 4 * int(rows[0]["step"])
    tags = tensorboard_scalars(run_dir)
    assert "weight_norm/q_net.features_extractor.cnn.0/v_norm" in tags


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


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    config = build_config(
        "dqn", "CartPole-v1", steps=2000, seed=0, logdir=tmp_path, eval_every=0,
        checkpoint_every=400, hp={"learning_starts": 100, "train_freq": 4, "gradient_steps": 1},
    )  # fmt: skip
    with pytest.raises(TrainingDiverged, match="step-000000800"):
        start_run(config, progress="none", extra_callbacks=(Corrupt(at=1000),))
    run_dir = only_run_dir(tmp_path)
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint.name == "step-000000800"
    assert not (run_dir / "model.zip").exists()
    model = DQN.load(checkpoint / "model.zip")
    assert all(torch.isfinite(p).all() for p in model.policy.parameters())


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


@pytest.mark.parametrize(
    ("hp", "channels_last", "fused"),
    [
        ([], True, True),  # the defaults: channels-last inputs, fused Adam
        (["policy_kwargs.channels_last=false", "policy_kwargs.optimizer_kwargs={fused: false}"],
         False, False),
    ],
)  # fmt: skip
def test_speed_settings_from_the_command_line(tmp_path: Path, hp, channels_last, fused) -> None:
    code = main(
        ["train", "dqn", "CartPole-v1", "--steps", "64", "--eval-every", "0",
         "--checkpoint-every", "0", "--logdir", str(tmp_path), "--no-progress-bar", "--hp",
         "learning_starts=16", *hp]
    )  # fmt: skip
    assert code == 0
    model = DQN.load(only_run_dir(tmp_path) / "model.zip")
    assert model.policy.channels_last is channels_last
    assert bool(model.policy.optimizer.defaults["fused"]) is fused


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


BAD_INPUTS = [
    (["train", "dqnn", "CartPole-v1"], "unknown agent 'dqnn' (did you mean 'dqn'?)"),
    (["train", "dqn", "CartPol-v1"], "did you mean 'CartPole-v1'"),
    (["train", "dqn", "ALE/Breakot-v5"], "did you mean 'ALE/Breakout-v5'"),
    (["train", "dqn", "Pendulum-v1"], "dqn cannot act in Pendulum-v1"),
    (["train", "sac", "CartPole-v1"], "sac cannot act in CartPole-v1"),
    (["train", "dqn", "CartPole-v1", "--preset", "papr"], "unknown preset 'papr'"),
    (["train", "dqn", "CartPole-v1", "--preset", "paper"], "is for atari environments"),
    (["train", "dqn", "CartPole-v1", "--hp", "learning_rat=1e-3"], "did you mean 'learning_rate'"),
    (["train", "dqn", "CartPole-v1", "--hp", "learning_rate=abc"], "learning_rate must be"),
    (["train", "dqn", "CartPole-v1", "--hp", "learning_rate"], "--hp expects key=value"),
    (["train", "dqn", "CartPole-v1", "--norm", "weight"], "unknown norm 'weight'"),
    (
        ["train", "dqn", "CartPole-v1", "--hp", "policy_kwargs.channels_last=maybe"],
        "channels_last must be true or false, got 'maybe'",
    ),
    (
        ["train", "dqn", "CartPole-v1", "--hp", "policy_kwargs.plain_heads=maybe"],
        "plain_heads must be true or false, got 'maybe'",
    ),
    (["train", "dqn", "CartPole-v1", "--steps", "0"], "--steps must be a positive integer"),
    (["train", "dqn", "CartPole-v1", "--device", "cuda"], "no CUDA GPU is available"),
    (["train", "ppo", "CartPole-v1", "--hp", "batch_size=1"], "`batch_size` must be greater"),
    (
        ["train", "dqn", "CartPole-v1", "--hp", "policy_kwargs.foo=1"],
        "unexpected keyword argument 'foo'",
    ),
    (["train", "--resume", "/nonexistent/run"], "run directory not found: /nonexistent/run"),
    (["train"], "train needs AGENT and ENV"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys) -> None:
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("wnrl: error: ") and err.count("\n") == 1, err
    assert message in err


def test_corrupt_run_directory_is_a_clear_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "config.yaml").write_text("agent: [unclosed\n")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not valid YAML" in err and err.count("\n") == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--resume", str(empty)]) == 2
    assert "not a wnrl run directory" in capsys.readouterr().err


def test_bad_input_through_the_real_command_has_no_traceback() -> None:
    result = run_cli("train", "dqn", "Pendulum-v1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


PRESET_ENVS = {
    "atari": "ALE/Pong-v5", "classic": "CartPole-v1", "continuous": "Pendulum-v1",
    "minatar": "MinAtar/Breakout-v1",
}  # fmt: skip


def every_preset() -> list[tuple[str, str, str]]:
    from wnrl.experiment.presets import ALGORITHMS, agent_presets

    return [
        (agent, name, PRESET_ENVS[preset["family"]])
        for agent in ALGORITHMS
        for name, preset in agent_presets(agent).items()
    ]


@pytest.mark.parametrize(("agent", "preset", "env"), every_preset())
def test_every_shipped_preset_builds_and_steps(agent: str, preset: str, env: str, tmp_path) -> None:
    """The YAML presets are real SB3 arguments: each builds its model and takes a few steps."""
    config = build_config(
        agent, env, preset=preset, steps=64, seed=0, logdir=tmp_path, eval_every=0,
        checkpoint_every=0, n_envs=2, hp={"learning_starts": 16} if agent in OFF_POLICY else {},
    )  # fmt: skip
    result = start_run(config, progress="none")
    assert result.status == "finished" and result.num_timesteps >= 64
    assert (result.run_dir / "model.zip").is_file()


OFF_POLICY = ("dqn", "qrdqn", "sac", "td3")


@pytest.mark.parametrize("error", [TypeError, ValueError, AssertionError])
def test_a_defect_in_wnrl_is_not_reported_as_bad_input(error, tmp_path: Path, capsys, monkeypatch):
    """An error raised inside wnrl while building a run keeps its traceback and exits 1: exit
    2 is for input the user gave."""
    import wnrl.sb3.networks

    def broken(*args, **kwargs):
        raise error("a wnrl defect")

    monkeypatch.setattr(wnrl.sb3.networks, "apply_norm", broken)  # DQN's network normalizes itself
    argv = ["train", "dqn", "CartPole-v1", "--steps", "64", "--logdir", str(tmp_path)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "a wnrl defect" in err
    assert "wnrl: internal error (a bug, not your input" in err
    assert "wnrl: error:" not in err
    # with the user's own values the same defect is still a defect, not their mistake
    assert main([*argv, "--hp", "batch_size=16"]) == 1


def test_train_prints_the_real_run_directory_first(tmp_path: Path, capsys) -> None:
    argv = ["train", "dqn", "CartPole-v1", "--steps", "64", "--eval-every", "0"]
    argv += ["--checkpoint-every", "0", "--logdir", str(tmp_path), "--no-progress-bar"]
    assert main([*argv, "--hp", "learning_starts=16"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"run directory: {only_run_dir(tmp_path)}"
    assert (only_run_dir(tmp_path) / "config.yaml").is_file()


def test_backend_means_one_thing_train_refuses_it_with_a_hint(tmp_path: Path, capsys) -> None:
    """``--backend`` is the sweep's executor; a run's Atari env backend is ``--env-backend``."""
    argv = ["train", "dqn", "breakout", "--backend", "sb3", "--logdir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--env-backend sb3" in err
    assert not list(tmp_path.iterdir())  # nothing started
