"""A frame-deduplicated replay buffer for Atari, a drop-in for SB3's ``ReplayBuffer``.

SB3's :class:`~stable_baselines3.common.buffers.ReplayBuffer` stores every stacked observation
(4 x 84 x 84 bytes) per transition, twice (``obs`` and ``next_obs``): about 56 GB for the 1M
transitions of the DQN setup of Mnih et al. (2015), 28 GB with ``optimize_memory_usage``.
Consecutive stacks share 3 of their 4 frames, so :class:`AtariReplayBuffer` stores each 84 x 84
frame once per env and rebuilds both stacks at sampling time: about 7.1 GB per 1M transitions
(7,056 bytes of frame plus 52 bytes of bookkeeping per transition). Use it through SB3's hook::

    from wnrl.buffers import AtariReplayBuffer

    model = DQN("CnnPolicy", env, buffer_size=1_000_000, replay_buffer_class=AtariReplayBuffer)

It works with DQN and sb3-contrib's QR-DQN unmodified, ``model.save_replay_buffer`` /
``model.load_replay_buffer`` included, and samples exactly what SB3's buffer
(``optimize_memory_usage=False``) would return for the same stream of transitions: bit-identical
``observations`` and ``next_observations``, same dtypes, shapes and devices.

How it stores a transition (per env, one ``add`` = one global step ``t``):

* ``frames[t % (N + 4), env]``: the newest frame of ``next_obs`` (``N`` = transitions per env).
  The ring has 4 slots more than the transition ring, so a frame lives as long as the oldest
  transition that uses it: **no wraparound rule is needed, every transition in the buffer is
  exact and sampleable**, as in SB3. Slot ``N + 4`` is an all-zero frame (never written; its
  page is never touched).
* ``frame_refs[pos, env]``: 8 int32 frame references, ``obs`` (4) then ``next_obs`` (4). A
  reference ``>= 0`` is a slot of ``frames`` (same env); ``< 0`` (``~k``) is slot ``k`` of a
  small side store.
* Episode boundaries are found by content, not by ``done``: ``obs`` continues the previous
  transition (its references are that transition's ``next_obs`` references) iff it equals the
  previous ``next_obs`` bit for bit. Otherwise (the first obs of a new episode, or after a
  reset) each of its 4 frames is either all-zero (the padding that SB3's ``VecFrameStack`` and
  ale-py put before the first frame: a reference to the zero slot) or copied into the side
  store, typically 1 frame per episode. So a stack never contains frames of the previous
  episode unless the env itself returned them (ale-py's life-loss "terminals" continue the
  stack, and are stored as continuations). The terminal observation (which SB3's
  ``_store_transition`` puts in ``next_obs`` from ``infos[i]["terminal_observation"]``) is an
  ordinary ``next_obs``: its newest frame goes to ``frames``. A ``next_obs`` that is not
  ``obs`` shifted by one frame (never seen from the Atari envs) gets its first 3 frames from the
  side store too, so any stream is reproduced exactly.
* Side-store frames are only referenced by transitions ``t .. t+3`` of the step ``t`` that
  wrote them, so they are recycled (free list) once those are overwritten.
* ``actions``, ``rewards``, ``dones``, ``timeouts`` exactly as in SB3 (``timeouts`` from
  ``infos[i]["TimeLimit.truncated"]`` when ``handle_timeout_termination``; sampled ``dones`` are
  ``dones * (1 - timeouts)``).

Pickling (``save_replay_buffer``) writes only the frames, references and per-transition arrays
written so far (not the unused tail of a partly filled buffer, and no derived copy such as the
last ``next_obs``, which is rebuilt on load); unpickling allocates full size again, lazily.
"""

from __future__ import annotations

import warnings
from collections import deque
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import BaseBuffer, ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

from wnrl.atari_settings import FRAME_STACK, SCREEN_SIZE
from wnrl.errors import ConfigError

try:  # same optional dependency as SB3's memory check
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

__all__ = ["FRAME_SHAPE", "STACK", "AtariReplayBuffer"]

#: Frames per stacked observation (axis 0 of the observation).
STACK = FRAME_STACK
#: Shape of one grayscale frame.
FRAME_SHAPE = (SCREEN_SIZE, SCREEN_SIZE)
_OBS_SHAPE = (STACK, *FRAME_SHAPE)


def _check_observation_space(observation_space: spaces.Space) -> None:
    ok = (
        isinstance(observation_space, spaces.Box)
        and tuple(observation_space.shape) == _OBS_SHAPE
        and observation_space.dtype == np.uint8
    )
    if not ok:
        raise ConfigError(
            "AtariReplayBuffer stores stacked Atari frames only: the observation space must be "
            f"Box(0, 255, {_OBS_SHAPE}, uint8), frames on axis 0 (wnrl.envs.make_env's Atari "
            f"observations); got {observation_space}. Use SB3's ReplayBuffer for other spaces."
        )


def _available_memory() -> int | None:
    """Bytes of memory available (psutil as SB3, else Linux's MemAvailable), None if unknown."""
    if psutil is not None:
        return int(psutil.virtual_memory().available)
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return None  # pragma: no cover


class AtariReplayBuffer(ReplayBuffer):
    """Replay buffer for ``(4, 84, 84)`` uint8 frame stacks that stores each frame once.

    Same constructor, ``add``, ``sample`` and ``size`` as SB3's
    :class:`~stable_baselines3.common.buffers.ReplayBuffer`, and the same samples: pass it as
    ``replay_buffer_class`` (extra arguments through ``replay_buffer_kwargs``). See the module
    docstring for the storage layout.

    Args:
        buffer_size: transitions in total; each env keeps ``buffer_size // n_envs`` (as SB3).
        observation_space: must be ``Box(0, 255, (4, 84, 84), uint8)``.
        action_space: the env's action space.
        device: where sampled tensors go (``"auto"``: CUDA when present).
        n_envs: envs adding transitions together (each keeps its own frame stream).
        optimize_memory_usage: accepted for SB3 compatibility and ignored: this buffer never
            stores a stack twice, and samples are SB3's ``optimize_memory_usage=False`` ones.
        handle_timeout_termination: as SB3: a ``done`` with ``infos[i]["TimeLimit.truncated"]``
            is sampled as ``done = 0`` (bootstrap through time limits).

    Raises:
        ValueError: the observation space is not ``(4, 84, 84)`` uint8.
    """

    frames: np.ndarray
    frame_refs: np.ndarray

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        device: th.device | str = "auto",
        n_envs: int = 1,
        optimize_memory_usage: bool = False,
        handle_timeout_termination: bool = True,
    ):
        _check_observation_space(observation_space)
        # Skip ReplayBuffer.__init__: it would allocate (and count) two full stacked arrays.
        BaseBuffer.__init__(self, buffer_size, observation_space, action_space, device, n_envs)
        self.buffer_size = max(buffer_size // n_envs, 1)
        self.optimize_memory_usage = False  # always frame-deduplicated; SB3's variant unused
        self.handle_timeout_termination = handle_timeout_termination

        n = self.buffer_size
        # Frame ring: N + STACK slots (see module docstring) + 1 zero slot at the end.
        self._n_slots = n + STACK
        self._zero_ref = self._n_slots
        self.frames = np.zeros((self._n_slots + 1, n_envs, *FRAME_SHAPE), dtype=np.uint8)
        self.frame_refs = np.zeros((n, n_envs, 2 * STACK), dtype=np.int32)
        self.actions = np.zeros(
            (n, n_envs, self.action_dim), dtype=self._maybe_cast_dtype(action_space.dtype)
        )
        self.rewards = np.zeros((n, n_envs), dtype=np.float32)
        self.dones = np.zeros((n, n_envs), dtype=np.float32)
        self.timeouts = np.zeros((n, n_envs), dtype=np.float32)
        self._init_stream_state()
        self._check_memory()

    # ---- bookkeeping ------------------------------------------------------------------
    def _init_stream_state(self) -> None:
        self._step = 0  # number of add() calls since construction / reset
        self._side = np.zeros((0, *FRAME_SHAPE), dtype=np.uint8)  # side store of frames
        self._side_free: list[int] = []  # free side slots (stack)
        self._side_live: deque[tuple[int, int]] = deque()  # (step written, slot), oldest first
        self._last_next: np.ndarray | None = None  # previous next_obs, for continuity checks

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "frames": self.frames,
            "frame_refs": self.frame_refs,
            "actions": self.actions,
            "rewards": self.rewards,
            "dones": self.dones,
            "timeouts": self.timeouts,
            "side": self._side,
        }

    @property
    def nbytes(self) -> int:
        """Bytes of all the arrays this buffer holds (allocated size, touched or not)."""
        return sum(array.nbytes for array in self._arrays().values())

    def bytes_per_transition(self) -> float:
        """:attr:`nbytes` divided by the capacity in transitions (``buffer_size * n_envs``)."""
        return self.nbytes / (self.buffer_size * self.n_envs)

    def _check_memory(self) -> None:
        """SB3's warning, with this buffer's real size (SB3 would count two stacks per
        transition)."""
        available = _available_memory()
        if available is not None and self.nbytes > available:
            warnings.warn(
                "This system does not have apparently enough memory to store the complete "
                f"replay buffer {self.nbytes / 1e9:.2f}GB > {available / 1e9:.2f}GB",
                stacklevel=3,
            )

    def _side_put(self, frame: np.ndarray) -> int:
        """Copy ``frame`` into the side store; return its (negative) reference."""
        if not self._side_free:
            old = len(self._side)
            grown = np.zeros((max(2 * old, 16 * self.n_envs), *FRAME_SHAPE), dtype=np.uint8)
            grown[:old] = self._side
            self._side = grown
            self._side_free.extend(range(len(grown) - 1, old - 1, -1))
        slot = self._side_free.pop()
        self._side[slot] = frame
        self._side_live.append((self._step, slot))
        return ~slot

    def _frame_ref(self, frame: np.ndarray) -> int:
        """Reference for a frame that does not continue a stored stream."""
        return self._side_put(frame) if frame.any() else self._zero_ref

    def _release_side(self) -> None:
        """Free side slots whose transitions (``t .. t+3`` of their step ``t``) are gone."""
        live, horizon = self._side_live, self._step - self.buffer_size - (STACK - 1)
        while live and live[0][0] <= horizon:
            self._side_free.append(live.popleft()[1])

    # ---- SB3 API ----------------------------------------------------------------------
    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """Store one transition per env (SB3's ``ReplayBuffer.add``)."""
        n_envs = self.n_envs
        obs = np.asarray(obs)
        next_obs = np.asarray(next_obs)
        expected = (n_envs, *_OBS_SHAPE)
        if obs.shape != expected or next_obs.shape != expected:
            raise ValueError(
                f"AtariReplayBuffer.add expects obs and next_obs of shape {expected}, "
                f"got {obs.shape} and {next_obs.shape}"
            )
        self._release_side()
        pos, slot = self.pos, self._step % self._n_slots
        refs = np.empty((n_envs, 2 * STACK), dtype=np.int32)

        # obs: continues the previous transition's next_obs, or starts a new stream.
        if self._last_next is None:
            cont = np.zeros(n_envs, dtype=bool)
        else:
            cont = (obs.reshape(n_envs, -1) == self._last_next.reshape(n_envs, -1)).all(axis=1)
            prev = self.frame_refs[(pos - 1) % self.buffer_size]
            refs[cont, :STACK] = prev[cont, STACK:]
        for env in np.flatnonzero(~cont):
            refs[env, :STACK] = [self._frame_ref(obs[env, k]) for k in range(STACK)]

        # next_obs: obs shifted by one frame plus a new frame (a terminal one included).
        self.frames[slot] = next_obs[:, -1]
        refs[:, STACK : 2 * STACK - 1] = refs[:, 1:STACK]
        refs[:, -1] = slot
        shifted = (next_obs[:, :-1] == obs[:, 1:]).reshape(n_envs, -1).all(axis=1)
        for env in np.flatnonzero(~shifted):
            refs[env, STACK:-1] = [self._frame_ref(next_obs[env, k]) for k in range(STACK - 1)]
        self.frame_refs[pos] = refs
        if self._last_next is None:
            self._last_next = np.empty(expected, dtype=np.uint8)
        self._last_next[...] = next_obs

        self.actions[pos] = np.asarray(action).reshape((n_envs, self.action_dim))
        self.rewards[pos] = np.asarray(reward)
        self.dones[pos] = np.asarray(done)
        if self.handle_timeout_termination:
            self.timeouts[pos] = [info.get("TimeLimit.truncated", False) for info in infos]

        self._step += 1
        self.pos += 1
        if self.pos == self.buffer_size:
            self.full = True
            self.pos = 0

    def reset(self) -> None:
        """Empty the buffer (arrays are kept, contents forgotten)."""
        super().reset()
        self._init_stream_state()

    def _get_samples(
        self, batch_inds: np.ndarray, env: VecNormalize | None = None
    ) -> ReplayBufferSamples:
        # Same random call as SB3, so a seeded numpy gives the same (index, env) pairs.
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        return self.sample_at(batch_inds, env_indices, env=env)

    def sample_at(
        self,
        batch_inds: np.ndarray,
        env_indices: np.ndarray,
        env: VecNormalize | None = None,
    ) -> ReplayBufferSamples:
        """The transitions at ``(batch_inds[i], env_indices[i])``, as SB3's ``_get_samples``
        returns them (``observations``/``next_observations`` uint8 ``(B, 4, 84, 84)``,
        ``actions`` ``(B, action_dim)``, ``dones``/``rewards`` float32 ``(B, 1)``).

        ``batch_inds`` are buffer positions (``0 <= i < size()``), as in SB3."""
        batch_inds = np.asarray(batch_inds)
        env_indices = np.asarray(env_indices)
        refs = self.frame_refs[batch_inds, env_indices]
        # Fresh, contiguous gathers: handed to torch without a further copy.
        obs = self._normalize_obs(self._gather(refs[:, :STACK], env_indices), env)
        next_obs = self._normalize_obs(self._gather(refs[:, STACK:], env_indices), env)
        dones = self.dones[batch_inds, env_indices] * (1 - self.timeouts[batch_inds, env_indices])
        rewards = self.rewards[batch_inds, env_indices].reshape(-1, 1)
        return ReplayBufferSamples(
            observations=th.as_tensor(obs, device=self.device),
            actions=self.to_torch(self.actions[batch_inds, env_indices, :]),
            next_observations=th.as_tensor(next_obs, device=self.device),
            dones=self.to_torch(dones.reshape(-1, 1)),
            rewards=self.to_torch(self._normalize_reward(rewards, env)),
        )

    def _gather(self, refs: np.ndarray, env_indices: np.ndarray) -> np.ndarray:
        """Frames for ``refs`` (shape ``(B, k)``) of envs ``env_indices``: ``(B, k, 84, 84)``."""
        side = refs < 0
        if not side.any():
            return self.frames[refs, env_indices[:, None]]
        out = self.frames[np.where(side, 0, refs), env_indices[:, None]]
        out[side] = self._side[~refs[side]]
        return out

    # ---- pickling (save_replay_buffer / load_replay_buffer) ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_last_next"]  # rebuilt from the frames on load
        if not self.full:  # only what was written; the rest is allocated again on load
            used_slots = min(self._step, self._n_slots)
            state["frames"] = self.frames[:used_slots]
            for name in ("frame_refs", "actions", "rewards", "dones", "timeouts"):
                state[name] = state[name][: self.pos]
        state["_side_live"] = list(self._side_live)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["_side_live"] = deque(state["_side_live"])
        n, n_envs = state["buffer_size"], state["n_envs"]
        full_shapes = {
            "frames": (state["_n_slots"] + 1, n_envs, *FRAME_SHAPE),
            "frame_refs": (n, n_envs, 2 * STACK),
            "actions": (n, n_envs, state["action_dim"]),
            "rewards": (n, n_envs),
            "dones": (n, n_envs),
            "timeouts": (n, n_envs),
        }
        for name, shape in full_shapes.items():
            stored = state[name]
            if stored.shape != shape or not stored.flags.writeable:
                array = np.zeros(shape, dtype=stored.dtype)
                array[: len(stored)] = stored
                state[name] = array
        self.__dict__.update(state)
        self._last_next = None
        if self._step > 0:
            last = self.frame_refs[(self.pos - 1) % self.buffer_size]
            self._last_next = self._gather(last[:, STACK:], np.arange(n_envs))
