"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


def one_line(error: BaseException) -> str:
    """The error's message on one line (whitespace collapsed), or its type name if empty."""
    return " ".join(str(error).split()) or type(error).__name__


def error_summary(error: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shortened(value: object, limit: int = 80) -> str:
    """``str(value)`` on one line, cut to ``limit`` characters: for quoting a value in a message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WnrlError(Exception):
    """A problem with the user's input (arguments, files, environment), not a bug in wnrl."""


class ConfigError(WnrlError, ValueError):
    """An unknown or invalid agent, preset, hyperparameter, norm or environment id."""


class RunFailed(WnrlError):
    """A run that started could not go on (CLI exit code 1, one line): not a bad input."""


class TrainingDiverged(RunFailed):
    """A loss or a parameter became NaN or infinite during training (CLI exit code 1)."""
