"""MinAtar in wnrl: ids and short names, the VecEnv path, the MinAtar network, presets and suite,
short real training runs with every norm, save/load, and the paper table of ``wnrl compare``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import DQN, PPO
from synthetic_runs import make_run
from torch import nn

import wnrl
from wnrl.analysis.compare import compare
from wnrl.analysis.reference_scores import MINATAR_PUBLISHED, MINATAR_RANDOM, PAPER_DQN, REFERENCES
from wnrl.analysis.run_summary import random_score
from wnrl.analysis.runs import score_key
from wnrl.analysis.statistics import compute
from wnrl.cli import main as wnrl_main
from wnrl.envs import canonical_env_id, make_env
from wnrl.envs.ids import is_minatar
from wnrl.errors import ConfigError
from wnrl.experiment.config import build_config
from wnrl.experiment.presets import suite
from wnrl.names import REFUSED_NORMS
from wnrl.nn.layers import WeightNormConv2d, WeightNormLinear
from wnrl.nn.norms import NORMS
from wnrl.sb3.extractors import MinAtarCNN, is_binary_grid_space

GAMES = {  # short name -> (id, channels, minimal actions)
    "minatar-breakout": ("MinAtar/Breakout-v1", 4, 3),
    "minatar-seaquest": ("MinAtar/Seaquest-v1", 10, 6),
    "minatar-space-invaders": ("MinAtar/SpaceInvaders-v1", 6, 4),
    "minatar-asterix": ("MinAtar/Asterix-v1", 4, 5),
    "minatar-freeway": ("MinAtar/Freeway-v1", 7, 3),
}


@pytest.mark.parametrize("name", list(GAMES))
def test_short_names_and_spaces(name: str) -> None:
    env_id, channels, n_actions = GAMES[name]
    assert canonical_env_id(name) == env_id
    assert canonical_env_id(name.replace("-", "_").upper()) == env_id
    assert is_minatar(name) and is_minatar(env_id)
    venv = make_env(name, n_envs=2, seed=0)
    try:
        assert venv.observation_space == spaces.Box(0, 1, (10, 10, channels), bool)
        assert venv.action_space == spaces.Discrete(n_actions)
        obs = venv.reset()
        assert obs.shape == (2, 10, 10, channels) and obs.dtype == np.bool_
        assert obs.any()  # the player (at least) is on the grid
    finally:
        venv.close()


def test_vecenv_reports_real_episode_scores() -> None:
    """Random play through the wnrl VecEnv path ends games and reports their scores
    (Monitor's ``infos[i]["episode"]``), equal to the summed rewards."""
    venv = make_env("minatar-breakout", n_envs=2, seed=3)
    rng = np.random.default_rng(0)
    venv.reset()
    returns, totals = [], np.zeros(2)
    while len(returns) < 4:
        _, rewards, dones, infos = venv.step(rng.integers(0, 3, size=2))
        totals += rewards
        for i in np.flatnonzero(dones):
            assert infos[i]["episode"]["r"] == pytest.approx(totals[i])
            returns.append(totals[i])
            totals[i] = 0.0
    venv.close()
    assert all(r >= 0 for r in returns)


def test_not_atari_and_typos_suggest_minatar_ids() -> None:
    assert not is_minatar("breakout") and canonical_env_id("breakout") == "ALE/Breakout-v5"
    with pytest.raises(ConfigError, match="did you mean 'MinAtar/Breakout-v1'"):
        canonical_env_id("minatar-breakot")
    with pytest.raises(ConfigError, match="MinAtar/Seaquest-v1"):
        canonical_env_id("minatar-seaquets")


def test_minatar_cnn_is_the_papers_network() -> None:
    space = spaces.Box(0, 1, (10, 10, 4), bool)
    assert is_binary_grid_space(space)
    assert not is_binary_grid_space(spaces.Box(0, 255, (10, 10, 4), np.uint8))
    assert not is_binary_grid_space(spaces.Box(0, 1, (2, 2, 4), bool))
    cnn = MinAtarCNN(space)
    conv, linear = cnn.cnn[0], cnn.linear[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (
        4, 16, (3, 3), (1, 1),
    )  # fmt: skip
    assert (linear.in_features, linear.out_features, cnn.features_dim) == (16 * 8 * 8, 128, 128)
    obs = torch.rand(5, 10, 10, 4) > 0.7
    # channel-last booleans through the network == MinAtar's own NCHW forward
    nchw = obs.float().permute(0, 3, 1, 2).contiguous()
    expected = torch.relu(linear(torch.relu(conv(nchw)).reshape(5, -1)))
    torch.testing.assert_close(cnn(obs), expected)
    with pytest.raises(ValueError, match="at least 3x3"):
        MinAtarCNN(spaces.Box(0, 1, (2, 10, 4), bool))


@pytest.mark.parametrize("policy", [wnrl.policies.WNDQNPolicy, "WNCnnPolicy"])
def test_dqn_policy_chooses_the_minatar_network(policy) -> None:
    venv = make_env("minatar-space-invaders", n_envs=1, seed=0)
    model = DQN(policy, venv, learning_starts=10, buffer_size=100)
    q_net = model.policy.q_net
    assert isinstance(q_net.features_extractor, MinAtarCNN)
    assert isinstance(q_net.features_extractor.cnn[0], WeightNormConv2d)
    assert isinstance(q_net.features_extractor.linear[0], WeightNormLinear)
    # heads directly on the 128 features, as SB3 does for NatureCNN; the head stays plain
    layers = list(q_net.q_net)
    assert len(layers) == 1 and type(layers[0]) is nn.Linear and layers[0].in_features == 128
    venv.close()


@pytest.mark.slow
@pytest.mark.parametrize("norm", NORMS)
def test_short_dqn_and_ppo_runs_with_every_norm(norm: str) -> None:
    """A few hundred real steps of DQN (training from step 100) and PPO on a MinAtar game."""
    venv = make_env("minatar-breakout", n_envs=1, seed=0)
    dqn = DQN(
        wnrl.policies.WNDQNPolicy, venv, policy_kwargs={"norm": norm}, learning_starts=100,
        buffer_size=1000, train_freq=1, seed=0,
    )  # fmt: skip
    before = [p.detach().clone() for p in dqn.policy.q_net.parameters()]
    dqn.learn(300)
    changed = [
        not torch.equal(a, b) for a, b in zip(before, dqn.policy.q_net.parameters(), strict=True)
    ]
    assert dqn.num_timesteps == 300 and any(changed)
    venv.close()
    if norm in REFUSED_NORMS["ppo"]:
        return  # PPO refuses it (tests/sb3/test_refused_norms.py)
    venv = make_env("minatar-breakout", n_envs=2, seed=0)
    ppo = PPO(
        wnrl.policies.WNActorCriticPolicy, venv, policy_kwargs={"norm": norm}, n_steps=64,
        batch_size=64, n_epochs=1, seed=0,
    )  # fmt: skip
    ppo.learn(256)
    assert ppo.num_timesteps == 256
    assert isinstance(ppo.policy.features_extractor, MinAtarCNN)
    venv.close()


@pytest.mark.slow
def test_save_and_load_a_minatar_model(tmp_path: Path) -> None:
    venv = make_env("minatar-breakout", n_envs=1, seed=0)
    model = DQN(wnrl.policies.WNDQNPolicy, venv, learning_starts=10, buffer_size=100, seed=0)
    model.learn(50)
    path = tmp_path / "model.zip"
    model.save(path)
    obs = venv.reset()
    expected = model.policy.q_net(torch.as_tensor(obs)).detach()
    for loaded in (DQN.load(path), wnrl.load(path, weights_only=True)):
        torch.testing.assert_close(loaded.policy.q_net(torch.as_tensor(obs)).detach(), expected)
        assert loaded.observation_space == venv.observation_space
    venv.close()


def test_presets_and_suite_resolve() -> None:
    envs = suite("minatar")["envs"]
    assert [canonical_env_id(env) for env in envs] == envs and len(envs) == 5
    dqn = build_config("dqn", "minatar-breakout", norm="wn", seed=0, steps=200_000)
    assert dqn["preset"] == "minatar" and dqn["env"] == "MinAtar/Breakout-v1"
    hp = dqn["hyperparams"]
    assert (hp["buffer_size"], hp["batch_size"], hp["target_update_interval"]) == (
        100_000, 32, 1_000,
    )  # fmt: skip
    assert (hp["train_freq"], hp["exploration_final_eps"]) == (1, 0.1)
    # epsilon reaches 0.1 after 100k steps whatever the run's length
    assert hp["exploration_fraction"] == pytest.approx(0.5)
    full = build_config("dqn", "minatar-breakout", seed=0)
    assert full["n_timesteps"] == 5_000_000
    assert full["hyperparams"]["exploration_fraction"] == pytest.approx(0.02)
    mine = build_config("dqn", "minatar-breakout", seed=0, hp={"exploration_fraction": 0.3})
    assert mine["hyperparams"]["exploration_fraction"] == 0.3
    assert dqn["policy_kwargs"]["optimizer_kwargs"]["centered"] is True
    for agent in ("qrdqn", "ppo"):
        assert build_config(agent, "minatar-seaquest", seed=0)["preset"] == "minatar"
    with pytest.raises(ConfigError, match="for minatar environments, not atari"):
        build_config("dqn", "breakout", preset="minatar", seed=0)


def test_random_scores_are_keyed_apart_from_atari() -> None:
    """MinAtar Breakout is another game than Atari Breakout: its own random score, and none of
    the Atari references (Mnih et al.'s random and human) in the normalization."""
    assert score_key("MinAtar/Breakout-v1") == "MinAtar-Breakout"
    assert score_key("ALE/Breakout-v5") == "Breakout"
    assert random_score("ALE/Breakout-v5") == REFERENCES["Breakout"].random == 1.7
    assert REFERENCES["MinAtar-Breakout"] != REFERENCES["Breakout"]
    for game in ("Breakout", "Seaquest", "SpaceInvaders", "Asterix", "Freeway"):
        assert random_score(f"MinAtar/{game}-v1") == MINATAR_RANDOM[game]
        reference = REFERENCES[f"MinAtar-{game}"]
        assert (reference.random, reference.best) == (
            MINATAR_RANDOM[game],
            MINATAR_PUBLISHED[game][0],
        )


@pytest.mark.slow
def test_quickstart_cli_run_writes_its_files(tmp_path: Path, capsys) -> None:
    """The README's main job, shortened: PPO's quick preset on MinAtar Breakout through the
    CLI, with the end-of-run summary naming every file."""
    argv = ["train", "ppo", "minatar-breakout", "--preset", "quick", "--steps", "512"]
    argv += ["--seed", "0", "--logdir", str(tmp_path), "--eval-every", "512"]
    assert wnrl_main([*argv, "--eval-episodes", "2", "--no-progress-bar"]) == 0
    printed = capsys.readouterr().out
    (run_dir,) = (tmp_path / "MinAtar-Breakout-v1").iterdir()
    assert (run_dir / "model.zip").is_file() and (run_dir / "evaluations.csv").is_file()
    assert f"tensorboard --logdir {run_dir}" in printed and "weight_norm/*" in printed
    assert f"a random policy scores {MINATAR_RANDOM['Breakout']:g}" in printed
    assert list(run_dir.glob("events.out.tfevents.*"))


def test_compare_paper_puts_the_atari_table_beside_minatar(tmp_path: Path) -> None:
    """Seeds with known scores: the side-by-side table has the paper's numbers, the IQM of the
    runs (4 runs: the mean of the middle two) and the ratio to none."""
    root = tmp_path / "runs"
    for seed, (none, wn) in enumerate([(1.0, 2.0), (2.0, 4.0), (3.0, 6.0), (10.0, 20.0)]):
        make_run(root, "MinAtar/Breakout-v1", "none", seed, [(1000, 0.0), (2000, none)])
        make_run(root, "MinAtar/Breakout-v1", "wn", seed, [(1000, 0.0), (2000, wn)])
    result = compare([root], tmp_path / "out", paper=True, reps=200)
    assert "paper WN/normal" in result.markdown
    with open(tmp_path / "out" / "paper_minatar.csv") as handle:
        rows = {row["norm"]: row for row in csv.DictReader(handle)}
    normal, with_wn, _ = PAPER_DQN["Breakout"]
    assert (
        float(rows["none"]["paper_dqn"]) == normal and float(rows["wn"]["paper_dqn_wn"]) == with_wn
    )
    assert float(rows["none"]["iqm"]) == pytest.approx(2.5)  # middle two of 1, 2, 3, 10
    assert float(rows["wn"]["iqm"]) == pytest.approx(5.0)
    assert float(rows["wn"]["ratio_to_none"]) == pytest.approx(2.0)
    assert float(rows["none"]["minatar_random"]) == MINATAR_RANDOM["Breakout"]
    assert "| random policy |" in result.markdown
    with open(tmp_path / "out" / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert table[0]["rlzoo_10m"] == ""  # RL Zoo's Atari score is not MinAtar's


def test_minatar_scores_are_normalized_by_fixed_references() -> None:
    """MinAtar scores run from the measured random score to a published agent's return
    (gymnax's PPO for Breakout: 28), whatever the runs reached: the aggregate of the same runs
    is the same in every study."""
    env = "MinAtar/Breakout-v1"
    scores = {(env, "dqn", "none"): [2.0, 4.0], (env, "dqn", "wn"): [6.0, 10.35]}
    stats = compute(scores, {env: score_key(env)}, reps=100)
    assert stats.references[env] == (0.35, 28.0, "reference")
    normalized = stats.normalized[("dqn", "wn")]
    assert normalized.max() == pytest.approx((10.35 - 0.35) / (28.0 - 0.35))
    more = {**scores, (env, "dqn", "wn+mobn"): [27.0, 27.5]}  # other runs beside: same scale
    assert compute(more, {env: score_key(env)}, reps=100).normalized[("dqn", "wn")] == (
        pytest.approx(normalized)
    )
