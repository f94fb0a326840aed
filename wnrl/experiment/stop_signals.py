"""The signals that stop a wnrl process with a checkpoint, and the exit status it then has.

Ctrl-C (SIGINT), ``kill`` (SIGTERM) and a closed terminal or a dropped SSH session (SIGHUP,
where the platform has it) all make ``wnrl train`` and the sweep's workers write a checkpoint
and stop; ``--resume`` (or the same sweep command) continues. Standard library only, so the
command line can read it without importing torch.
"""

from __future__ import annotations

import signal

#: the one list every wnrl process that trains or runs a sweep handles
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def exit_code(signal_name: str) -> int:
    """The shell's exit status of a process stopped by ``signal_name``: 128 + its number (130
    for SIGINT, 143 for SIGTERM, 129 for SIGHUP)."""
    return 128 + int(signal.Signals[signal_name])
