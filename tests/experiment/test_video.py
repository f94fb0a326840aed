"""wnrl.experiment.video: an MP4 of one game (Atari's rendered frames, classic control),
written atomically, refused without moviepy before any work."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from evaluation_models import ATARI, CARTPOLE, assert_one_line

from wnrl.errors import ConfigError, WnrlError
from wnrl.experiment.video import record_video


# --------------------------------------------------------------------------------------
# video
# --------------------------------------------------------------------------------------
def test_video_without_moviepy_fails_before_any_work(
    tmp_path: Path, untrained_cartpole, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _ = untrained_cartpole
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_video_of_a_classic_control_episode(tmp_path: Path, cartpole) -> None:
    pytest.importorskip("moviepy")
    model, _ = cartpole
    target = tmp_path / "cartpole.mp4"
    result = record_video(model, CARTPOLE, target, epsilon=0.0, seed=0)
    count, size, _, _ = frames_of(target)
    assert size == (600, 400)
    assert count == result.lengths[0]  # one frame per step, the next episode's dropped


def test_video_is_written_atomically(
    tmp_path: Path, untrained_cartpole, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("moviepy")
    from moviepy.video.io.ImageSequenceClip import ImageSequenceClip

    model, _ = untrained_cartpole
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


def test_video_arguments(tmp_path: Path, untrained_cartpole) -> None:
    pytest.importorskip("moviepy")
    model, _ = untrained_cartpole
    with pytest.raises(ConfigError, match=r"\.mp4"):
        record_video(model, CARTPOLE, tmp_path / "game.gif")
    with pytest.raises(ConfigError, match="max_steps"):
        record_video(model, CARTPOLE, tmp_path / "game.mp4", max_steps=0)
    assert list(tmp_path.iterdir()) == []
