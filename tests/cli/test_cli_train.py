"""``wnrl train`` and ``wnrl evaluate`` end to end: a complete run directory (config, checkpoints,
evaluations, TensorBoard curves of training, the init and weight norm), Atari, speed settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from cli_runs import only_run_dir, read_evaluations, run_cli, tensorboard_scalars
from stable_baselines3 import DQN

from wnrl.cli import main
from wnrl.experiment.checkpoints import latest_checkpoint

pytestmark = pytest.mark.slow  # every test trains an agent


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


def test_train_prints_the_real_run_directory_first(tmp_path: Path, capsys) -> None:
    argv = ["train", "dqn", "CartPole-v1", "--steps", "64", "--eval-every", "0"]
    argv += ["--checkpoint-every", "0", "--logdir", str(tmp_path), "--no-progress-bar"]
    assert main([*argv, "--hp", "learning_starts=16"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"run directory: {only_run_dir(tmp_path)}"
    assert (only_run_dir(tmp_path) / "config.yaml").is_file()
