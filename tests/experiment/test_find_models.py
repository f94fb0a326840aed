"""wnrl.experiment.find_models: the model of a run directory (final model, else the latest
checkpoint), of a checkpoint or of a bare model file, and one-line errors naming the path."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from evaluation_models import ATARI, CARTPOLE, assert_one_line, q_values
from stable_baselines3 import DQN

from wnrl.envs import make_env
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.evaluate import (
    evaluation_env,
)
from wnrl.experiment.find_models import find_model, load_for_evaluation
from wnrl.policies import WNDQNPolicy


# --------------------------------------------------------------------------------------
# loading runs and model files
# --------------------------------------------------------------------------------------
def write_config(run: Path, env: str = CARTPOLE, **extra: object) -> None:
    run.mkdir(parents=True, exist_ok=True)
    lines = [
        "agent: dqn",
        f"env: {env}",
        "norm: wn",
        "seed: 1",
        "backend: auto",
        "env_kwargs: {}",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    (run / "config.yaml").write_text("\n".join(lines) + "\n")


def add_checkpoint(run: Path, name: str, model_file: Path) -> Path:
    checkpoint = run / "checkpoints" / name
    checkpoint.mkdir(parents=True)
    shutil.copy(model_file, checkpoint / "model.zip")
    (run / "checkpoints" / "latest").write_text(name + "\n")
    return checkpoint / "model.zip"


@pytest.fixture
def other_cartpole(tmp_path: Path, untrained_cartpole) -> Path:
    """The untrained cartpole model with other weights (to tell files apart by their Q-values)."""
    model, _ = untrained_cartpole
    clone = DQN(WNDQNPolicy, make_env(CARTPOLE), policy_kwargs={"net_arch": [32]}, seed=9)
    path = tmp_path / "other.zip"
    clone.save(path)
    obs = np.zeros((1, 4), dtype=np.float32)
    assert not np.allclose(q_values(clone, obs), q_values(model, obs))
    return path


@pytest.mark.parametrize("weights_only", [False, True])
def test_run_directory_prefers_the_final_model(
    tmp_path: Path, untrained_cartpole, other_cartpole: Path, weights_only: bool
) -> None:
    model, path = untrained_cartpole
    run = tmp_path / "run"
    write_config(run, extra_key="kept")
    shutil.copy(path, run / "model.zip")
    add_checkpoint(run, "step-000000100", other_cartpole)
    loaded, config = load_for_evaluation(run, weights_only=weights_only, device="cpu")
    assert config["model_path"] == str(run / "model.zip")
    assert config["env"] == CARTPOLE and config["env_kwargs"] == {}
    assert config["agent"] == "dqn" and config["seed"] == 1 and config["extra_key"] == "kept"
    assert type(loaded) is DQN and loaded.env is None
    obs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    np.testing.assert_allclose(q_values(loaded, obs), q_values(model, obs), rtol=1e-6)


def test_run_directory_without_final_model_uses_the_latest_checkpoint(
    tmp_path: Path, untrained_cartpole, other_cartpole: Path
) -> None:
    model, path = untrained_cartpole
    run = tmp_path / "run"
    write_config(run)
    add_checkpoint(run, "step-000000300", other_cartpole)  # sorts last, but is not "latest"
    newest = add_checkpoint(run, "step-000000200", path)
    loaded, config = load_for_evaluation(run, device="cpu")
    assert config["model_path"] == str(newest)
    obs = np.zeros((1, 4), dtype=np.float32)
    np.testing.assert_allclose(q_values(loaded, obs), q_values(model, obs), rtol=1e-6)
    # a checkpoint (file or directory) given directly finds the run's config two levels up
    for target in (newest, newest.parent):
        found, config = find_model(target)
        assert found == newest and config["env"] == CARTPOLE and config["norm"] == "wn"


@pytest.mark.slow
def test_atari_run_directory_weights_only(tmp_path: Path, atari) -> None:
    model, path = atari
    run = tmp_path / "run"
    write_config(run, env=ATARI)
    add_checkpoint(run, "step-000000040", path)
    loaded, config = load_for_evaluation(run, weights_only=True, device="cpu")
    assert config["env"] == ATARI and loaded.env is None
    env = evaluation_env(config["env"], seed=0, backend=config["backend"], **config["env_kwargs"])
    obs = env.reset()
    np.testing.assert_allclose(q_values(loaded, obs), q_values(model, obs), rtol=1e-5, atol=1e-6)
    env.close()


def test_bare_model_file(tmp_path: Path, untrained_cartpole) -> None:
    model, path = untrained_cartpole
    bare = tmp_path / "alone" / "model.zip"
    bare.parent.mkdir()
    shutil.copy(path, bare)
    with pytest.raises(ConfigError, match="give an env id") as error:
        load_for_evaluation(bare)
    assert_one_line(error, bare)
    loaded, config = load_for_evaluation(bare, env_id="cartpole-v1", device="cpu")
    assert config["env"] == CARTPOLE and config["env_kwargs"] == {}
    assert config["agent"] == "dqn" and config["norm"] == "wn"
    assert config["model_path"] == str(bare)
    # SB3's convention: the .zip may be left out
    _, config = find_model(tmp_path / "alone" / "model", env_id=CARTPOLE)
    assert config["model_path"] == str(bare)
    # a config.yaml beside the file names the env; an explicit env_id overrides it
    write_config(bare.parent, env="Acrobot-v1")
    assert find_model(bare)[1]["env"] == "Acrobot-v1"
    assert find_model(bare, env_id=CARTPOLE)[1]["env"] == CARTPOLE
    with pytest.raises(ConfigError, match="unknown environment id"):
        find_model(bare, env_id="CartPol-v1")


@pytest.mark.parametrize(
    "layout",
    [
        "missing",
        "no_config",
        "model_without_config",
        "no_model",
        "latest_names_nothing",
        "latest_escapes",
        "latest_empty",
        "bad_yaml",
        "yaml_list",
        "bad_env_kwargs",
        "corrupt_model",
        "no_env",
        "unknown_env",
    ],
)
def test_error_paths_are_one_line_and_name_the_path(
    tmp_path: Path, untrained_cartpole, layout: str
) -> None:
    _, path = untrained_cartpole
    run = tmp_path / "run"
    named: Path = run
    if layout == "missing":
        run = named = tmp_path / "nowhere"
    elif layout == "no_config":
        run.mkdir()
    elif layout == "model_without_config":  # the model would do, but which env is it for?
        run.mkdir()
        shutil.copy(path, run / "model.zip")
        named = run / "model.zip"
    elif layout == "no_model":
        write_config(run)
    elif layout.startswith("latest"):
        write_config(run)
        (run / "checkpoints").mkdir()
        content = {"latest_names_nothing": "step-1", "latest_escapes": "../..", "latest_empty": ""}
        (run / "checkpoints" / "latest").write_text(content[layout])
        named = run / "checkpoints" / "latest"
    elif layout == "bad_yaml":
        write_config(run)
        (run / "config.yaml").write_text("agent: dqn\nenv: [CartPole-v1\n")
        shutil.copy(path, run / "model.zip")
        named = run / "config.yaml"
    elif layout == "yaml_list":
        write_config(run)
        (run / "config.yaml").write_text("- dqn\n- CartPole-v1\n")
        shutil.copy(path, run / "model.zip")
        named = run / "config.yaml"
    elif layout == "bad_env_kwargs":
        write_config(run)
        (run / "config.yaml").write_text(f"env: {CARTPOLE}\nenv_kwargs: [1, 2]\n")
        shutil.copy(path, run / "model.zip")
        named = run / "config.yaml"
    elif layout == "corrupt_model":
        write_config(run)
        (run / "model.zip").write_bytes(b"PK\x03\x04 not really a zip")
        named = run / "model.zip"
    elif layout == "unknown_env":
        write_config(run, env="CartPol-v1")
        shutil.copy(path, run / "model.zip")
        named = run / "config.yaml"
    elif layout == "no_env":
        write_config(run)
        (run / "config.yaml").write_text("agent: dqn\nseed: 1\n")
        shutil.copy(path, run / "model.zip")
        named = run / "config.yaml"
    with pytest.raises(WnrlError) as error:
        load_for_evaluation(run, device="cpu")
    assert_one_line(error, named)
