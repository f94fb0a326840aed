"""The command line's parsing and errors: ``--version`` and ``--help``, ``wnrl list``, one line
and exit status 2 for bad input, exit status 1 and a traceback for a defect in wnrl."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_runs import run_cli

from wnrl.cli import main


def test_help_names_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "list", "demo", "sweep", "compare"):
        assert command in out


@pytest.mark.slow  # two Python processes
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
    assert "not for ppo, a2c, sac, td3" in out  # the agents that refuse wn+mobn
    assert main(["list", "--agent", "dqn"]) == 0
    assert "learning_starts: 100000" in capsys.readouterr().out


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
    (["train", "sac", "Pendulum-v1", "--norm", "wn+mobn"], "'wn+mobn' is not offered for sac"),
    (
        ["sweep", "CartPole-v1", "--agent", "ppo", "--norm", "none,wn+mobn", "--dry-run"],
        "'wn+mobn' is not offered for ppo",
    ),
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


@pytest.mark.slow
def test_bad_input_through_the_real_command_has_no_traceback() -> None:
    result = run_cli("train", "dqn", "Pendulum-v1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


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


def test_backend_means_one_thing_train_refuses_it_with_a_hint(tmp_path: Path, capsys) -> None:
    """``--backend`` is the sweep's executor; a run's Atari env backend is ``--env-backend``."""
    argv = ["train", "dqn", "breakout", "--backend", "sb3", "--logdir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--env-backend sb3" in err
    assert not list(tmp_path.iterdir())  # nothing started
