"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The error's message on one line (whitespace collapsed), or its type name if empty."""
    return " ".join(str(error).split()) or type(error).__name__


class WnrlError(Exception):
    """A problem with the user's input (arguments, files, environment), not a bug in wnrl."""


class ConfigError(WnrlError, ValueError):
    """An unknown or invalid agent, preset, hyperparameter, norm or environment id."""


class RunFailed(WnrlError):
    """A run that started could not go on (CLI exit code 1, one line): not a bad input."""


class TrainingDiverged(RunFailed):
    """A loss or a parameter became NaN or infinite during training (CLI exit code 1)."""
