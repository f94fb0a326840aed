"""Evaluate trained agents: the DQN test protocol, run directories, and videos.

The test score of the paper (sec. 5.4) is the one of Mnih et al. (2015): the agent plays whole
games with an epsilon-greedy policy, epsilon = 0.05 (:data:`EVAL_EPSILON`), and the score of a
game is its real, unclipped score. Here:

* :func:`evaluate_model` runs SB3's own ``evaluate_policy`` with an :class:`EpsilonGreedy`
  predictor around the model and returns an :class:`EvalResult`. With several envs,
  ``evaluate_policy`` gives every env a fixed number of episodes up front, so short episodes are
  not over-represented.
* :func:`evaluation_env` builds the env to evaluate on: for Atari, unclipped rewards and whole
  games (no end-of-life terminals), with the no-op starts and sticky actions of training.
  Scores always come from ``infos[i]["episode"]["r"]`` (SB3's ``Monitor``, which
  :class:`wnrl.envs.AleVecEnv` reproduces), so they are the game's own.
* :func:`load_for_evaluation` loads what ``wnrl train`` wrote (a run directory) or a bare
  ``model.zip``, with the run's configuration.
* :func:`record_video` writes an MP4 of one game, rendered frames of the real screen; it needs
  moviepy (``pip install 'wnrl[video]'``).
* :func:`format_result` prints one summary line.

Every problem a user can cause raises a :class:`~wnrl.errors.WnrlError` (or its subclass
:class:`~wnrl.errors.ConfigError`) whose message is one line naming the offending path or value.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from wnrl.checkpoints import CHECKPOINTS, LATEST, latest_checkpoint
from wnrl.envs import FRAME_SKIP, MAX_EPISODE_STEPS, canonical_env_id, is_atari, make_env
from wnrl.errors import ConfigError, WnrlError
from wnrl.rundir import CONFIG, FINAL_MODEL, read_config

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

__all__ = [
    "EVAL_EPSILON",
    "EpsilonGreedy",
    "EvalResult",
    "evaluate_model",
    "evaluation_env",
    "find_model",
    "format_result",
    "load_for_evaluation",
    "record_video",
]

#: Exploration rate of the DQN test protocol (Mnih et al. 2015; paper sec. 5.4).
EVAL_EPSILON = 0.05
#: Default cap of a recorded game in agent steps (about 300 MB of 210x160 RGB frames in memory,
#: 200 s of video at Atari's real-time 15 frames/s).
VIDEO_MAX_STEPS = 3_000
#: Atari consoles draw 60 frames/s; the agent sees (and the video shows) one in FRAME_SKIP.
_ATARI_FPS = 60

# Layout of a run directory written by ``wnrl train`` (wnrl.train, wnrl.checkpoints).

_MOVIEPY_MISSING = "writing a video needs moviepy: pip install 'wnrl[video]'"


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
@dataclass
class EvalResult:
    """Scores of finished episodes.

    Attributes:
        scores: the real (unclipped) game score of every finished episode.
        lengths: episode lengths as the env's ``Monitor`` counts them: emulator frames for
            Atari (agent steps x 4), agent steps otherwise.
    """

    scores: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.scores = [float(s) for s in self.scores]
        self.lengths = [int(n) for n in self.lengths]

    @property
    def n(self) -> int:
        """Number of episodes."""
        return len(self.scores)

    @property
    def mean(self) -> float:
        """Mean score (NaN without episodes)."""
        return float(np.mean(self.scores)) if self.scores else math.nan

    @property
    def std(self) -> float:
        """Standard deviation of the scores (population, as SB3 reports it; NaN if empty)."""
        return float(np.std(self.scores)) if self.scores else math.nan

    @property
    def max(self) -> float:
        """Best score (NaN without episodes); the paper's table reports the max over epochs of
        the mean test score, not this."""
        return float(np.max(self.scores)) if self.scores else math.nan

    @property
    def min(self) -> float:
        """Worst score (NaN without episodes)."""
        return float(np.min(self.scores)) if self.scores else math.nan

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML data: the summary statistics and the per-episode lists."""
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "max": self.max,
            "min": self.min,
            "scores": list(self.scores),
            "lengths": list(self.lengths),
        }


def _number(value: float) -> str:
    """``20`` for whole numbers, ``20.5`` otherwise."""
    if math.isfinite(value) and value == round(value):
        return str(int(round(value)))
    return f"{value:.1f}"


def format_result(result: EvalResult, label: str) -> str:
    """One line: ``"<label>: mean 12.3 +- 4.5, max 20, min 3 over 30 episodes"``."""
    if result.n == 0:
        return f"{label}: no finished episodes"
    episodes = "episode" if result.n == 1 else "episodes"
    return (
        f"{label}: mean {result.mean:.1f} +- {result.std:.1f}, max {_number(result.max)}, "
        f"min {_number(result.min)} over {result.n} {episodes}"
    )


# --------------------------------------------------------------------------------------
# Epsilon-greedy evaluation
# --------------------------------------------------------------------------------------
class EpsilonGreedy:
    """An SB3 ``PolicyPredictor``: the model's greedy action, or with probability ``epsilon`` a
    uniformly random one, drawn independently for every env at every step (Mnih et al. 2015).

    The greedy action is ``model.predict(obs, deterministic=True)`` (for DQN the argmax of the
    Q-values, never DQN's own training exploration). ``epsilon=0`` returns exactly the model's
    deterministic actions and draws no random numbers.

    Args:
        model: anything with SB3's ``predict`` signature (an algorithm or a policy).
        action_space: the env's ``Discrete`` action space (random actions come from it); any
            space when ``epsilon`` is 0.
        epsilon: exploration rate in [0, 1].
        rng: the generator for the coin flips and the random actions.
    """

    def __init__(
        self,
        model: Any,
        action_space: spaces.Space,
        epsilon: float,
        rng: np.random.Generator | None = None,
    ) -> None:
        self.model = model
        self.action_space = action_space
        self.epsilon = _check_epsilon(epsilon, action_space)
        self.rng = rng if rng is not None else np.random.default_rng()

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions for a batch of observations (``deterministic`` is ignored: the greedy part
        is always deterministic, the exploration always on)."""
        actions, state = self.model.predict(
            observation, state=state, episode_start=episode_start, deterministic=True
        )
        if self.epsilon == 0.0:
            return actions, state
        actions = np.asarray(actions)
        flat = actions.reshape(-1)
        explore = self.rng.random(flat.size) < self.epsilon
        space = self.action_space
        assert isinstance(space, spaces.Discrete)
        random = self.rng.integers(int(space.n), size=flat.size) + int(space.start)
        mixed = np.where(explore, random, flat).astype(actions.dtype, copy=False)
        return mixed.reshape(actions.shape), state


def _check_epsilon(epsilon: Any, action_space: spaces.Space) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float, np.integer, np.floating)):
        raise ConfigError(f"epsilon must be a number in [0, 1], got {epsilon!r}")
    value = float(epsilon)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ConfigError(f"epsilon must be in [0, 1], got {epsilon!r}")
    if value > 0.0 and not isinstance(action_space, spaces.Discrete):
        raise ConfigError(
            f"epsilon-greedy evaluation needs a discrete action space, not "
            f"{type(action_space).__name__}{action_space.shape}; use epsilon 0"
        )
    return value


def _resolve_epsilon(epsilon: float | None, action_space: spaces.Space) -> float:
    """``None``: the protocol's 0.05 for discrete actions, 0 (no exploration) otherwise."""
    if epsilon is None:
        return EVAL_EPSILON if isinstance(action_space, spaces.Discrete) else 0.0
    return _check_epsilon(epsilon, action_space)


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0 or None, got {seed!r}")
    return int(seed)


def _check_spaces(model: Any, env: VecEnv) -> None:
    """One-line ConfigError when the model was trained on other spaces than ``env`` has."""
    for key in ("observation_space", "action_space"):
        expected = getattr(model, key, None)
        actual = getattr(env, key)
        if isinstance(expected, spaces.Space) and expected != actual:
            raise ConfigError(
                f"the model's {key.replace('_', ' ')} {_short(expected)} does not match the "
                f"env's {_short(actual)}: evaluate on the environment it was trained on"
            )


def _short(value: Any, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def evaluate_model(
    model: Any,
    env: VecEnv | gym.Env,
    n_episodes: int = 30,
    epsilon: float | None = None,
    seed: int | None = None,
) -> EvalResult:
    """The test score of the DQN protocol (Mnih et al. 2015; paper sec. 5.4).

    Plays ``n_episodes`` whole episodes with :class:`EpsilonGreedy` through SB3's
    ``evaluate_policy`` (``return_episode_rewards=True``), which divides the episodes among the
    envs in fixed shares so that the mean is not biased towards short episodes, and reads the
    scores from the ``Monitor`` data in ``infos`` (unclipped game scores for wnrl's Atari envs;
    build the env with :func:`evaluation_env`).

    Args:
        model: an SB3 model or policy (anything with ``predict``).
        env: the env to play in, usually from :func:`evaluation_env`; a plain ``gym.Env`` is
            wrapped in a ``DummyVecEnv``.
        n_episodes: number of finished episodes to score.
        epsilon: exploration rate. ``None``: 0.05 (:data:`EVAL_EPSILON`) for a discrete action
            space, 0 otherwise. A value > 0 with a non-discrete action space raises
            :class:`~wnrl.errors.ConfigError` (there is no uniform "random action" to mix in).
        seed: seeds the exploration and, when given, the env (env ``i`` with ``seed + i`` at
            the reset that starts the evaluation), so a call is reproducible. ``None``: fresh
            randomness, and the env keeps its own seeding.

    Raises:
        ConfigError: bad ``n_episodes``/``epsilon``/``seed``, or a model whose observation or
            action space differs from the env's.
    """
    if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)):
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    if n_episodes < 1:
        raise ConfigError(f"n_episodes must be a positive integer, got {n_episodes!r}")
    seed = _check_seed(seed)
    if not isinstance(env, VecEnv):
        single = env
        env = DummyVecEnv([lambda: single])
    eps = _resolve_epsilon(epsilon, env.action_space)
    _check_spaces(model, env)
    if seed is not None:
        env.seed(seed)
    predictor = EpsilonGreedy(model, env.action_space, eps, np.random.default_rng(seed))
    scores, lengths = evaluate_policy(
        predictor,  # type: ignore[arg-type]
        env,
        n_eval_episodes=int(n_episodes),
        deterministic=True,
        return_episode_rewards=True,
        warn=True,
    )
    return EvalResult(list(scores), list(lengths))  # type: ignore[arg-type]


def evaluation_env(
    env_id: str,
    n_envs: int = 1,
    seed: int | None = None,
    backend: str = "auto",
    **env_kwargs: Any,
) -> VecEnv:
    """The env to measure test scores on: :func:`wnrl.envs.make_env` with, for Atari ids,
    ``clip_reward=False`` and ``terminal_on_life_loss=False`` (whole games, real scores; these
    two override what ``env_kwargs`` says, so a run's training ``env_kwargs`` can be passed
    as they are). No-op starts, sticky actions and the episode cap keep their (training)
    values. Other ids get ``make_env`` unchanged.

    ``n_envs > 1`` is faster and unbiased with :func:`evaluate_model`; more envs than episodes
    waste steps.
    """
    kwargs = dict(env_kwargs)
    if is_atari(env_id):
        kwargs["clip_reward"] = False
        kwargs["terminal_on_life_loss"] = False
    return make_env(env_id, n_envs=n_envs, seed=seed, backend=backend, **kwargs)


# --------------------------------------------------------------------------------------
# Finding and loading models
# --------------------------------------------------------------------------------------
def _latest_checkpoint_model(run_dir: Path) -> Path | None:
    """``checkpoints/<latest>/model.zip`` of a run, None when there is no ``latest``."""
    checkpoint = latest_checkpoint(run_dir)
    return None if checkpoint is None else checkpoint / FINAL_MODEL


def find_model(
    target: str | os.PathLike[str], env_id: str | None = None
) -> tuple[Path, dict[str, Any]]:
    """The model file to evaluate and its run configuration.

    ``target`` is a run directory of ``wnrl train`` (its ``config.yaml``, and its final
    ``model.zip`` or, while the run has none, the newest checkpoint's, named by
    ``checkpoints/latest``), or a model file (``.zip`` may be left out, as SB3 allows) or a
    directory holding a ``model.zip`` but no ``config.yaml`` (a checkpoint), whose
    configuration is a ``config.yaml`` beside the model, or the run's when the model is
    ``<run>/checkpoints/<name>/model.zip``. Without any ``config.yaml``, ``env_id`` must be
    given.

    Returns:
        ``(model_path, config)``: ``config`` is a copy of the run configuration (``{}`` plus the
        keys below without one) where ``env`` is the canonical env id (``env_id`` when given,
        which overrides the run's), ``env_kwargs`` is a dict and ``model_path`` the model file.

    Raises:
        WnrlError: a missing path, a directory without ``config.yaml`` or model, an unreadable
            or corrupt ``config.yaml`` or ``checkpoints/latest``; ConfigError: no env id known,
            or an unknown one. The message is one line naming the path.
    """
    path = Path(target)
    config_path: Path | None = None
    if path.is_dir() and not (path / CONFIG).is_file():
        if not (path / FINAL_MODEL).is_file():  # e.g. a checkpoint directory is fine
            raise WnrlError(
                f"{path} is not a wnrl run directory: it has no {CONFIG} (nor {FINAL_MODEL})"
            )
        path = path / FINAL_MODEL
    if path.is_dir():
        config_path = path / CONFIG
        model = path / FINAL_MODEL
        if not model.is_file():
            found = _latest_checkpoint_model(path)
            if found is None:
                raise WnrlError(
                    f"run directory {path} holds no model: no {FINAL_MODEL} and no "
                    f"{CHECKPOINTS}/{LATEST}"
                )
            model = found
    else:
        if path.is_file():
            model = path
        elif Path(f"{path}.zip").is_file():
            model = Path(f"{path}.zip")
        else:
            raise WnrlError(f"no such run directory or model file: {path}")
        beside = model.parent / CONFIG
        run_config = model.parent.parent.parent / CONFIG
        if beside.is_file():
            config_path = beside
        elif model.parent.parent.name == CHECKPOINTS and run_config.is_file():
            config_path = run_config
    config = read_config(config_path) if config_path is not None else {"env_kwargs": {}}
    if env_id is None:
        env_id = config.get("env")
        if env_id is None:
            where = (
                f"{config_path} names no env"
                if config_path
                else f"no {CONFIG} beside it or in its run directory"
            )
            raise ConfigError(
                f"cannot tell which env to evaluate {model} on ({where}); give an env id"
            )
        try:
            env_id = canonical_env_id(env_id)
        except ConfigError as error:
            raise ConfigError(f"{config_path}: {error}") from error
    config["env"] = canonical_env_id(env_id)
    config["model_path"] = str(model)
    return model, config


def load_for_evaluation(
    target: str | os.PathLike[str],
    env_id: str | None = None,
    device: str = "auto",
    weights_only: bool = False,
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """Load the model of a run directory or a model file (see :func:`find_model`) for
    evaluation, with :func:`wnrl.serialization.load` (algorithm detected from the file).

    ``weights_only=True`` unpickles nothing from the file; the spaces then come from a one-env
    :func:`evaluation_env` of the run's env (built for the load, closed after it), which also
    checks that the model fits that env. The returned model has no env attached.

    Returns:
        ``(model, config)``: ``config`` as :func:`find_model` returns it, plus ``agent``
        (the algorithm's lower-case name) and ``norm`` when the run config lacks them.
    """
    from wnrl.serialization import load

    model_path, config = find_model(target, env_id)
    if weights_only:
        backend = config.get("backend") or "auto"
        env = evaluation_env(config["env"], n_envs=1, backend=backend, **config["env_kwargs"])
        try:
            model = load(model_path, env=env, device=device, weights_only=True)
        finally:
            env.close()
        model.env = None
    else:
        model = load(model_path, env=None, device=device, weights_only=False)
    config.setdefault("agent", type(model).__name__.lower())
    config.setdefault("norm", getattr(model.policy, "norm", None))
    return model, config


# --------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------
def require_moviepy() -> None:
    """WnrlError with the install hint when moviepy (SB3's video writer) is not importable."""
    try:
        import moviepy  # noqa: F401
        from moviepy.video.io.ImageSequenceClip import ImageSequenceClip  # noqa: F401
    except ImportError as error:
        raise WnrlError(_MOVIEPY_MISSING) from error
    except Exception as error:  # a broken install (e.g. no ffmpeg binary)
        first = (str(error).strip().splitlines() or [""])[0][:120]
        raise WnrlError(f"moviepy cannot be imported ({type(error).__name__}: {first})") from error


def _video_episode_cap(env_id: str, max_steps: int, env_kwargs: dict[str, Any]) -> int:
    """The recorded game's step cap: ``max_steps`` or the env's own, whichever is lower."""
    own = env_kwargs.get("max_episode_steps")
    if own is None:
        own = MAX_EPISODE_STEPS if is_atari(env_id) else gym.spec(env_id).max_episode_steps
    return min(max_steps, int(own)) if own is not None else max_steps


def record_video(
    model: Any,
    env_id: str,
    path: str | os.PathLike[str],
    epsilon: float | None = None,
    seed: int | None = None,
    max_steps: int = VIDEO_MAX_STEPS,
    env_kwargs: dict[str, Any] | None = None,
) -> EvalResult:
    """Write an MP4 of ``model`` playing one episode of ``env_id`` to ``path``.

    The frames are the env's ``render()`` images (for Atari the real 210x160 color screen, one
    per agent step, at the real-time 15 frames/s), recorded by SB3's ``VecVideoRecorder`` on
    the ``"sb3"`` backend (ale-py's vector env cannot render) of :func:`evaluation_env`. The
    agent acts as in :func:`evaluate_model` (``epsilon`` and ``seed`` alike). The episode ends
    with the game or after ``max_steps`` agent steps (truncation, also for the score).

    The file is written under a temporary name in ``path``'s directory (created if needed) and
    renamed into place, so ``path`` never holds a partial video.

    Returns:
        The recorded episode's :class:`EvalResult` (one score).

    Raises:
        WnrlError: moviepy is missing (checked before any work: ``pip install 'wnrl[video]'``)
            or the video cannot be written; ConfigError: bad arguments (``path`` must end in
            ``.mp4``).
    """
    require_moviepy()
    from stable_baselines3.common.vec_env import VecVideoRecorder

    final = Path(path)
    if final.suffix.lower() != ".mp4":
        raise ConfigError(f"video path must end in .mp4: {final}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ConfigError(f"max_steps must be a positive integer, got {max_steps!r}")
    seed = _check_seed(seed)
    env_id = canonical_env_id(env_id)
    kwargs = {k: v for k, v in (env_kwargs or {}).items() if k != "num_threads"}
    kwargs["max_episode_steps"] = _video_episode_cap(env_id, int(max_steps), kwargs)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise WnrlError(f"cannot create the directory of {final}: {error.strerror}") from error

    env = evaluation_env(env_id, n_envs=1, seed=seed, backend="sb3", **kwargs)
    if env.render_mode != "rgb_array":  # make_vec_env's default; guard against a change
        env.close()
        raise WnrlError(f"{env_id} does not render RGB frames; cannot record a video")
    workdir = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    recorder: VecVideoRecorder | None = None
    try:
        recorder = VecVideoRecorder(
            env,
            str(workdir),
            record_video_trigger=lambda step: step == 0,
            video_length=int(max_steps) + 2,  # never stops on its own within one episode
            name_prefix="episode",
        )
        if is_atari(env_id):
            recorder.frames_per_sec = _ATARI_FPS // FRAME_SKIP
        result = evaluate_model(model, recorder, n_episodes=1, epsilon=epsilon, seed=seed)
        # The step that ends the episode auto-resets the env, so the last captured frame is
        # the first one of the next episode: drop it.
        if len(recorder.recorded_frames) > 2:
            recorder.recorded_frames.pop()
        video = Path(recorder.video_path)
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
        ):
            recorder.close()  # writes the video (moviepy's progress output silenced)
        recorder = None
        if not video.is_file() or video.stat().st_size == 0:
            raise WnrlError(f"no video was written for {final}")
        os.replace(video, final)
    except WnrlError:
        raise
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0][:160]
        raise WnrlError(f"cannot write video {final}: {type(error).__name__}: {first}") from error
    finally:
        if recorder is not None:  # failed before writing: drop the frames, close the env
            recorder.recorded_frames = []
            recorder.recording = False
        env.close()  # also the recorder's (closing twice is harmless)
        shutil.rmtree(workdir, ignore_errors=True)
    return result
