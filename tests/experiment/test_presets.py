"""The presets: every shipped preset builds its model and trains a few steps; their learning
defaults: data-dependent init per agent (and its ``ddi_heads`` setting), the paper's
all-weight-normalized network by name, RL Zoo's life-loss terminals on Atari."""

from __future__ import annotations

import pytest

from wnrl.experiment.config import build_config
from wnrl.experiment.presets import agent_presets
from wnrl.experiment.train import start_run


def test_the_paper_preset_asks_for_the_papers_network() -> None:
    assert agent_presets("dqn")["paper"]["policy_kwargs"]["plain_heads"] is False
    config = build_config("dqn", "BreakoutNoFrameskip-v4", norm="wn", preset="paper")
    assert config["policy_kwargs"]["plain_heads"] is False
    assert "plain_heads" not in build_config("dqn", "CartPole-v1", norm="wn")["policy_kwargs"]


@pytest.mark.parametrize("agent", ["dqn", "qrdqn", "ppo", "a2c"])
def test_rl_zoo_atari_presets_end_the_learning_episode_on_a_lost_life(agent: str) -> None:
    """RL Zoo wraps Atari in SB3's AtariWrapper, whose default is terminal_on_life_loss=True."""
    config = build_config(agent, "BreakoutNoFrameskip-v4", norm="wn")
    assert config["preset"] == "atari"
    assert config["env_kwargs"] == {"terminal_on_life_loss": True}
    if agent == "dqn":  # the paper's preset follows the paper, not RL Zoo
        paper = build_config(agent, "BreakoutNoFrameskip-v4", norm="wn", preset="paper")
        assert paper["env_kwargs"] == {}


def test_ddi_heads_is_a_run_setting_older_runs_read_as_scale(tmp_path) -> None:
    from wnrl.errors import ConfigError
    from wnrl.experiment.rundir import read_config

    assert build_config("ppo", "CartPole-v1", ddi_heads="keep")["ddi_heads"] == "keep"
    assert build_config("ppo", "CartPole-v1")["ddi_heads"] == "scale"
    with pytest.raises(ConfigError, match="--ddi-heads must be one of scale, keep"):
        build_config("ppo", "CartPole-v1", ddi_heads="maybe")
    old = tmp_path / "config.yaml"
    old.write_text("agent: ppo\nenv: CartPole-v1\nnorm: wn\nseed: 0\nddi: true\n")
    assert read_config(old)["ddi_heads"] == "scale"


@pytest.mark.parametrize("agent", ["ppo", "a2c"])
def test_on_policy_presets_train_weight_norm_without_the_init(agent: str) -> None:
    """PPO and A2C: no data-dependent init by default (with it WN PPO learns Breakout 3x worse;
    README, Results); ``ddi=True`` (``--ddi``) brings it back; every preset of theirs says so."""
    env = {"ppo": "CartPole-v1", "a2c": "CartPole-v1"}[agent]
    assert build_config(agent, env, norm="wn")["ddi"] is False
    assert build_config(agent, env, norm="wn", ddi=True)["ddi"] is True
    assert build_config(agent, "Pendulum-v1", norm="wn+proj")["ddi"] is False
    assert all(preset.get("ddi") is False for preset in agent_presets(agent).values())


@pytest.mark.parametrize(
    "agent,env", [("dqn", "CartPole-v1"), ("qrdqn", "CartPole-v1"), ("sac", "Pendulum-v1")]
)
def test_other_agents_keep_the_papers_init(agent: str, env: str) -> None:
    assert build_config(agent, env, norm="wn")["ddi"] is True
    assert build_config(agent, env, norm="none")["ddi"] is False
    assert build_config(agent, env, norm="wn", ddi=False)["ddi"] is False


def test_a_preset_ddi_that_is_not_a_bool_is_a_config_error(monkeypatch) -> None:
    from wnrl.errors import ConfigError
    from wnrl.experiment import config

    presets = {"classic": {**agent_presets("ppo")["classic"], "ddi": "no"}}
    monkeypatch.setattr(
        config, "select_preset", lambda agent, family, name: ("classic", presets["classic"])
    )
    with pytest.raises(ConfigError, match="preset key ddi must be true or false"):
        build_config("ppo", "CartPole-v1", norm="wn")


def ddi_argv(logdir) -> list[str]:
    argv = ["train", "ppo", "CartPole-v1", "--steps", "64", "--logdir", str(logdir)]
    return argv + ["--hp", "n_steps=16", "--eval-every", "0", "--checkpoint-every", "0"]


def test_cli_ddi_flags_exclude_each_other(tmp_path, capsys) -> None:
    from wnrl.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*ddi_argv(tmp_path), "--ddi", "--no-ddi"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing started


@pytest.mark.slow
def test_cli_ddi_flag_chooses_the_init_of_the_run(tmp_path) -> None:
    from wnrl.cli import main
    from wnrl.experiment.rundir import CONFIG, read_config

    assert main([*ddi_argv(tmp_path), "--seed", "1", "--ddi"]) == 0
    (config_path,) = tmp_path.rglob(CONFIG)
    assert read_config(config_path)["ddi"] is True


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


@pytest.mark.slow
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
