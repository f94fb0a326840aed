"""The Atari settings every layer reads: the DQN preprocessing (Mnih et al. 2015), the env backends.

Standard library only, so the replay buffer (``wnrl.sb3``), the env factories (``wnrl.envs``),
the run configuration, the analysis and the command line all read them from this one owner.
"""

from __future__ import annotations

#: Agent steps per emulator frame group (action repeat), Mnih et al. (2015).
FRAME_SKIP = 4
#: Frames stacked into one observation.
FRAME_STACK = 4
#: Side of the square grayscale frame.
SCREEN_SIZE = 84
#: Maximum number of no-op actions at the start of a game.
NOOP_MAX = 30
#: Default episode cap in agent steps: 108,000 emulator frames = 30 minutes of play.
MAX_EPISODE_STEPS = 27_000
#: The Atari env backends of :func:`wnrl.envs.make_env`: ale-py's C++ vector env where it
#: supports the game (auto), always (ale), or SB3's ``make_atari_env`` pipeline (sb3).
BACKENDS = ("auto", "ale", "sb3")
