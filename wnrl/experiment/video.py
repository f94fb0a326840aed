"""Record an MP4 of one game played by a trained agent: the real screen (needs moviepy)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from wnrl.atari_settings import FRAME_SKIP, MAX_EPISODE_STEPS
from wnrl.envs.ids import canonical_env_id, is_atari
from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.evaluate import EvalResult, check_seed, evaluate_model, evaluation_env

if TYPE_CHECKING:
    pass


#: Default cap of a recorded game in agent steps (about 300 MB of 210x160 RGB frames in memory,
#: 200 s of video at Atari's real-time 15 frames/s).
VIDEO_MAX_STEPS = 3_000


#: Atari consoles draw 60 frames/s; the agent sees (and the video shows) one in FRAME_SKIP.
_ATARI_FPS = 60


_MOVIEPY_MISSING = "writing a video needs moviepy: pip install 'wnrl[video]'"


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
    seed = check_seed(seed)
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
