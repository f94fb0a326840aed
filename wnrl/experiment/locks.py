"""Advisory file locks: one wnrl process at a time on a run directory or a sweep's logdir."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from wnrl.errors import WnrlError

__all__ = ["exclusive_lock"]


@contextlib.contextmanager
def exclusive_lock(path: Path, busy_message: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` block.

    Another process holding it gives ``WnrlError(busy_message)`` at once (no waiting). The
    lock dies with its process, so a killed run never leaves a stale lock. The holder's pid is
    written into the file for people; the lock itself is the flock. No-op where ``fcntl`` is
    missing (not POSIX).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            suffix = f" (pid {holder})" if holder.isdigit() else ""
            raise WnrlError(busy_message + suffix) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
