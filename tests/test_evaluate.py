"""Tests for wnrl.experiment.evaluate: the DQN test protocol, run-directory loading, videos."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN, TD3
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from wnrl.envs import AleVecEnv, make_env
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.evaluate import (
    EVAL_EPSILON,
    EpsilonGreedy,
    EvalResult,
    evaluate_model,
    evaluation_env,
    format_result,
)
from wnrl.experiment.find_models import find_model, load_for_evaluation
from wnrl.experiment.video import record_video
from wnrl.policies import WNDQNPolicy, WNTD3Policy

CARTPOLE = "CartPole-v1"
ATARI = "ALE/SpaceInvaders-v5"  # points per invader 5..30: unclipped scores are multiples of 5


# --------------------------------------------------------------------------------------
# tiny real models, trained once per module
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def cartpole(models_dir: Path) -> tuple[DQN, Path]:
    """A WN DQN trained 200 steps on CartPole (greedy play: short, nearly constant episodes)."""
    env = make_env(CARTPOLE, seed=0)
    model = DQN(
        WNDQNPolicy,
        env,
        learning_starts=50,
        buffer_size=1_000,
        policy_kwargs={"net_arch": [32]},
        seed=0,
    )
    model.learn(200)
    path = models_dir / "cartpole.zip"
    model.save(path)
    env.close()
    return model, path


@pytest.fixture(scope="module")
def atari(models_dir: Path) -> tuple[DQN, Path]:
    """A WN DQN (small NatureCNN) trained a few dozen steps on SpaceInvaders."""
    env = make_env(ATARI, seed=0)
    model = DQN(
        WNDQNPolicy,
        env,
        learning_starts=16,
        buffer_size=100,
        batch_size=8,
        train_freq=4,
        policy_kwargs={"features_extractor_kwargs": {"features_dim": 32}},
        seed=0,
    )
    model.learn(40)
    path = models_dir / "invaders.zip"
    model.save(path)
    env.close()
    return model, path


def q_values(model: DQN, obs: np.ndarray) -> np.ndarray:
    tensor, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        return model.policy.q_net(tensor).numpy()


def assert_one_line(error: pytest.ExceptionInfo[BaseException], *names: object) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    for name in names:
        assert str(name) in message, message


# --------------------------------------------------------------------------------------
# EvalResult and format_result
# --------------------------------------------------------------------------------------
def test_eval_result_statistics() -> None:
    result = EvalResult([np.float32(3.0), 5.0, 10.0, 2.0], [np.int64(100), 120, 300, 80])
    assert result.n == 4
    assert result.mean == pytest.approx(5.0)
    assert result.std == pytest.approx(np.std([3.0, 5.0, 10.0, 2.0]))
    assert (result.max, result.min) == (10.0, 2.0)
    data = result.as_dict()
    assert json.loads(json.dumps(data)) == data  # plain JSON types only
    assert data["scores"] == [3.0, 5.0, 10.0, 2.0] and data["lengths"] == [100, 120, 300, 80]
    assert {k: data[k] for k in ("n", "mean", "max", "min")} == {
        "n": 4,
        "mean": 5.0,
        "max": 10.0,
        "min": 2.0,
    }
    empty = EvalResult([], [])
    assert empty.n == 0 and math.isnan(empty.mean) and math.isnan(empty.max)


def test_format_result() -> None:
    result = EvalResult([20.0, 3.0, 14.0], [1, 1, 1])
    std = np.std([20.0, 3.0, 14.0])
    assert format_result(result, "dqn-wn") == (
        f"dqn-wn: mean 12.3 +- {std:.1f}, max 20, min 3 over 3 episodes"
    )
    assert format_result(EvalResult([20.5], [1]), "x") == (
        "x: mean 20.5 +- 0.0, max 20.5, min 20.5 over 1 episode"
    )
    assert format_result(EvalResult([-1448.0, 7375.0], [1, 1]), "y").endswith(
        "max 7375, min -1448 over 2 episodes"
    )
    assert format_result(EvalResult([], []), "z") == "z: no finished episodes"


# --------------------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------------------
def test_epsilon_zero_equals_sb3_deterministic_evaluation(cartpole) -> None:
    model, _ = cartpole
    ours = evaluate_model(
        model, evaluation_env(CARTPOLE, n_envs=2), n_episodes=7, epsilon=0, seed=3
    )
    scores, lengths = evaluate_policy(
        model,
        make_env(CARTPOLE, n_envs=2, seed=3),
        7,
        deterministic=True,
        return_episode_rewards=True,
    )
    assert ours.n == 7
    assert ours.scores == [float(s) for s in scores]
    assert ours.lengths == [int(n) for n in lengths]


@pytest.mark.parametrize("backend", ["ale", "sb3"])
def test_epsilon_zero_equals_sb3_deterministic_evaluation_atari(atari, backend: str) -> None:
    model, _ = atari
    kwargs = {"backend": backend, "max_episode_steps": 60}
    ours = evaluate_model(model, evaluation_env(ATARI, **kwargs), n_episodes=2, epsilon=0, seed=5)
    reference = make_env(ATARI, seed=5, clip_reward=False, **kwargs)
    scores, lengths = evaluate_policy(model, reference, 2, return_episode_rewards=True)
    assert ours.scores == [float(s) for s in scores]
    assert ours.lengths == [int(n) for n in lengths]


def test_epsilon_greedy_mixes_random_actions_per_env(cartpole) -> None:
    model, _ = cartpole
    env = make_env(CARTPOLE)
    obs = np.random.default_rng(0).uniform(-0.2, 0.2, size=(4_000, 4)).astype(np.float32)
    greedy, _ = model.predict(obs, deterministic=True)
    for epsilon in (0.0, 0.3, 1.0):
        predictor = EpsilonGreedy(model, env.action_space, epsilon, np.random.default_rng(1))
        actions, state = predictor.predict(obs)
        assert state is None and actions.shape == greedy.shape and actions.dtype == greedy.dtype
        # a random action differs from the greedy one with probability 1/2 (2 actions)
        differ = float(np.mean(actions != greedy))
        assert differ == pytest.approx(epsilon / 2, abs=0.03), epsilon
        assert set(np.unique(actions)) <= {0, 1}
    # the draws are per env and per step: two calls on the same batch differ
    predictor = EpsilonGreedy(model, env.action_space, 1.0, np.random.default_rng(2))
    first, _ = predictor.predict(obs[:64])
    second, _ = predictor.predict(obs[:64])
    assert 0 < np.sum(first != second) < 64
    assert 0 < np.sum(first != first[0]) < 64


def test_epsilon_one_plays_randomly(cartpole) -> None:
    """CartPole: greedy play of the barely trained model falls in ~10 steps; uniformly random
    play averages ~22 steps per episode."""
    model, _ = cartpole
    env = evaluation_env(CARTPOLE, n_envs=3)
    greedy = evaluate_model(model, env, n_episodes=30, epsilon=0.0, seed=0)
    random = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=0)
    assert greedy.max <= 12 and greedy.std < 2
    assert 15 <= random.mean <= 35 and random.std > 5
    assert random.scores == [float(n) for n in random.lengths]  # CartPole: 1 point per step
    again = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=0)
    other = evaluate_model(model, env, n_episodes=30, epsilon=1.0, seed=1)
    assert again.scores == random.scores  # the seed fixes env and exploration
    assert other.scores != random.scores


def test_default_epsilon_is_the_protocol_s(cartpole) -> None:
    model, _ = cartpole
    env = evaluation_env(CARTPOLE, n_envs=2)
    default = evaluate_model(model, env, n_episodes=30, seed=4)
    explicit = evaluate_model(model, env, n_episodes=30, epsilon=EVAL_EPSILON, seed=4)
    greedy = evaluate_model(model, env, n_episodes=30, epsilon=0.0, seed=4)
    assert EVAL_EPSILON == 0.05 and default.scores == explicit.scores
    assert default.scores != greedy.scores  # ~15 of the ~300 actions were random


@pytest.mark.parametrize(("n_envs", "n_episodes"), [(3, 5), (4, 2), (1, 3)])
def test_counts_exactly_the_requested_episodes(cartpole, n_envs: int, n_episodes: int) -> None:
    model, _ = cartpole
    env = evaluation_env(CARTPOLE, n_envs=n_envs)
    result = evaluate_model(model, env, n_episodes=n_episodes, epsilon=0.5, seed=0)
    assert result.n == len(result.lengths) == n_episodes


def test_continuous_actions_take_no_exploration() -> None:
    env = evaluation_env("Pendulum-v1")
    model = TD3(WNTD3Policy, env, policy_kwargs={"net_arch": [16]}, seed=0)
    result = evaluate_model(model, env, n_episodes=2, seed=1)  # default epsilon: 0 here
    scores, _ = evaluate_policy(
        model, make_env("Pendulum-v1", seed=1), 2, return_episode_rewards=True
    )
    assert result.scores == [float(s) for s in scores]
    with pytest.raises(ConfigError, match="discrete action space") as error:
        evaluate_model(model, env, n_episodes=1, epsilon=0.05)
    assert_one_line(error, "Box")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epsilon": -0.1}, "epsilon"),
        ({"epsilon": 1.5}, "epsilon"),
        ({"epsilon": float("nan")}, "epsilon"),
        ({"epsilon": "0.05"}, "epsilon"),
        ({"n_episodes": 0}, "n_episodes"),
        ({"n_episodes": 2.5}, "n_episodes"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments(cartpole, kwargs: dict, match: str) -> None:
    model, _ = cartpole
    with pytest.raises(ConfigError, match=match) as error:
        evaluate_model(model, evaluation_env(CARTPOLE), **kwargs)
    assert_one_line(error)


def test_model_for_another_env_is_refused(cartpole) -> None:
    model, _ = cartpole
    with pytest.raises(ConfigError, match="observation space") as error:
        evaluate_model(model, evaluation_env("Acrobot-v1"), n_episodes=1)
    assert_one_line(error, "evaluate on the environment it was trained on")


# --------------------------------------------------------------------------------------
# Atari: real scores
# --------------------------------------------------------------------------------------
class RewardLog(VecEnvWrapper):
    """Records the rewards env 0 returns, summed per episode (its ``dones``)."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self.episodes: list[float] = []
        self.rewarded_steps: list[int] = []
        self.biggest = 0.0
        self._sum, self._count = 0.0, 0

    def reset(self):
        self._sum, self._count = 0.0, 0
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self._sum += float(rewards[0])
        self._count += int(rewards[0] != 0)
        self.biggest = max(self.biggest, float(rewards[0]))
        if dones[0]:
            self.episodes.append(self._sum)
            self.rewarded_steps.append(self._count)
            self._sum, self._count = 0.0, 0
        return obs, rewards, dones, infos


@pytest.mark.parametrize("backend", ["ale", "sb3"])
def test_atari_scores_are_unclipped_game_scores(atari, backend: str) -> None:
    model, _ = atari
    cap = {"backend": backend, "max_episode_steps": 250}
    env = RewardLog(evaluation_env(ATARI, **cap))
    result = evaluate_model(model, env, n_episodes=3, epsilon=1.0, seed=7)
    # the evaluation env returns the game's rewards (one invader: 5 to 30 points)...
    assert env.biggest >= 5
    # ...and each score is their sum, the game score, not the number of rewarded steps
    assert result.scores == env.episodes[:3]
    assert all(score % 5 == 0 for score in result.scores)
    assert any(score > n for score, n in zip(result.scores, env.rewarded_steps, strict=False))
    # a training env clips its rewards, yet evaluate_model still reports the game scores
    training = RewardLog(make_env(ATARI, seed=7, **cap))
    clipped = evaluate_model(model, training, n_episodes=3, epsilon=1.0, seed=7)
    assert training.biggest == 1.0
    assert clipped.scores == result.scores


def test_evaluation_env_plays_whole_unclipped_games() -> None:
    env = evaluation_env("breakout", backend="ale", clip_reward=True, terminal_on_life_loss=True)
    assert isinstance(env, AleVecEnv)
    assert env.env_id == "ALE/Breakout-v5"
    assert env.clip_reward is False and env.terminal_on_life_loss is False
    env.close()
    # other ids: make_env unchanged, kwargs to gym.make
    short = evaluation_env(CARTPOLE, n_envs=2, max_episode_steps=5)
    result = evaluate_model(lambda_model(short), short, n_episodes=2, epsilon=1.0, seed=0)
    assert max(result.lengths) <= 5


def lambda_model(env: VecEnv):
    """A model that always plays action 0 (for epsilon-only tests)."""

    class Zero:
        observation_space, action_space = env.observation_space, env.action_space

        def predict(self, obs, state=None, episode_start=None, deterministic=False):
            return np.zeros(len(obs), dtype=np.int64), state

    return Zero()


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
def other_cartpole(tmp_path: Path, cartpole) -> Path:
    """The cartpole model with other weights (to tell files apart by their Q-values)."""
    model, _ = cartpole
    clone = DQN(WNDQNPolicy, make_env(CARTPOLE), policy_kwargs={"net_arch": [32]}, seed=9)
    path = tmp_path / "other.zip"
    clone.save(path)
    obs = np.zeros((1, 4), dtype=np.float32)
    assert not np.allclose(q_values(clone, obs), q_values(model, obs))
    return path


@pytest.mark.parametrize("weights_only", [False, True])
def test_run_directory_prefers_the_final_model(
    tmp_path: Path, cartpole, other_cartpole: Path, weights_only: bool
) -> None:
    model, path = cartpole
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
    tmp_path: Path, cartpole, other_cartpole: Path
) -> None:
    model, path = cartpole
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


def test_bare_model_file(tmp_path: Path, cartpole) -> None:
    model, path = cartpole
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
def test_error_paths_are_one_line_and_name_the_path(tmp_path: Path, cartpole, layout: str) -> None:
    _, path = cartpole
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


# --------------------------------------------------------------------------------------
# video
# --------------------------------------------------------------------------------------
def test_video_without_moviepy_fails_before_any_work(
    tmp_path: Path, cartpole, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = cartpole
    monkeypatch.setitem(sys.modules, "moviepy", None)  # makes `import moviepy` fail
    target = tmp_path / "new" / "game.mp4"
    with pytest.raises(WnrlError) as error:
        record_video(model, "NoSuchGame-v0", target)  # a bad env id would fail later
    assert str(error.value) == "writing a video needs moviepy: pip install 'wnrl[video]'"
    assert not target.parent.exists()


def frames_of(path: Path) -> tuple[int, tuple[int, int], float, np.ndarray]:
    import imageio.v2 as imageio

    reader = imageio.get_reader(path, "ffmpeg")
    try:
        meta = reader.get_meta_data()
        first = reader.get_data(0)
        return reader.count_frames(), tuple(meta["size"]), float(meta["fps"]), first
    finally:
        reader.close()


def test_video_of_an_atari_game(tmp_path: Path, atari) -> None:
    pytest.importorskip("moviepy")
    model, _ = atari
    target = tmp_path / "videos" / "sub" / "invaders.mp4"
    result = record_video(model, ATARI, target, seed=0, max_steps=40)
    assert result.n == 1
    data = target.read_bytes()
    assert len(data) > 1_000 and data[4:8] == b"ftyp"
    count, size, fps, first = frames_of(target)
    # one rendered 210x160 color frame per agent step (the reset frame, minus the next
    # game's), not the 84x84 grayscale observations; real time: 60 / 4 frames per second
    assert size == (160, 210) and fps == pytest.approx(15.0)
    assert 20 <= count <= 40
    assert first.shape == (210, 160, 3) and np.abs(np.diff(first.astype(int), axis=2)).max() > 0
    assert sorted(p.name for p in target.parent.iterdir()) == ["invaders.mp4"]
    # the same seed plays the same game
    again = record_video(model, ATARI, tmp_path / "again.mp4", seed=0, max_steps=40)
    assert again.scores == result.scores and again.lengths == result.lengths


def test_video_of_a_classic_control_episode(tmp_path: Path, cartpole) -> None:
    pytest.importorskip("moviepy")
    model, _ = cartpole
    target = tmp_path / "cartpole.mp4"
    result = record_video(model, CARTPOLE, target, epsilon=0.0, seed=0)
    count, size, _, _ = frames_of(target)
    assert size == (600, 400)
    assert count == result.lengths[0]  # one frame per step, the next episode's dropped


def test_video_is_written_atomically(
    tmp_path: Path, cartpole, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moviepy")
    from moviepy.video.io.ImageSequenceClip import ImageSequenceClip

    model, _ = cartpole
    target = tmp_path / "out" / "crash.mp4"

    def crash(self, filename, *args, **kwargs):
        Path(filename).write_bytes(b"\x00\x00\x00\x18ftypisom truncated")
        raise OSError("disk full")

    monkeypatch.setattr(ImageSequenceClip, "write_videofile", crash)
    with pytest.raises(WnrlError, match="disk full") as error:
        record_video(model, CARTPOLE, target, seed=0)
    assert_one_line(error, target)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no temporary left behind


def test_video_arguments(tmp_path: Path, cartpole) -> None:
    pytest.importorskip("moviepy")
    model, _ = cartpole
    with pytest.raises(ConfigError, match=r"\.mp4"):
        record_video(model, CARTPOLE, tmp_path / "game.gif")
    with pytest.raises(ConfigError, match="max_steps"):
        record_video(model, CARTPOLE, tmp_path / "game.mp4", max_steps=0)
    assert list(tmp_path.iterdir()) == []
