"""Gymnasium spaces rebuilt from their readable description in a model file (printed arrays)."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from wnrl.errors import WnrlError, error_summary, shortened
from wnrl.sb3.saved_data import ENV_HINT, TYPE

if TYPE_CHECKING:
    from gymnasium import spaces


class _CannotRebuild(Exception):
    """A space description in the JSON that does not determine the space exactly."""


_BOX = "<class 'gymnasium.spaces.box.Box'>"


_DISCRETE = "<class 'gymnasium.spaces.discrete.Discrete'>"


_MULTI_DISCRETE = "<class 'gymnasium.spaces.multi_discrete.MultiDiscrete'>"


_MULTI_BINARY = "<class 'gymnasium.spaces.multi_binary.MultiBinary'>"


#: numpy's default print options, under which SB3's JSON writes array bounds
_PRINT_OPTIONS: dict[str, Any] = {
    "precision": 8,
    "threshold": 1000,
    "edgeitems": 3,
    "linewidth": 75,
    "suppress": False,
    "nanstr": "nan",
    "infstr": "inf",
    "sign": "-",
    "floatmode": "maxprec",
    "formatter": None,
    "legacy": False,
}


_INTEGER = re.compile(r"[-+]?\d+")


def _dtype(desc: dict[str, Any], kinds: str) -> np.dtype:
    name = desc.get("dtype")
    try:
        dtype = np.dtype(name) if isinstance(name, str) else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in kinds:
        raise _CannotRebuild(f"unsupported dtype {shortened(name)}")
    return dtype


def _shape(desc: dict[str, Any]) -> tuple[int, ...]:
    shape = desc.get("_shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _CannotRebuild(f"unreadable shape {shortened(shape)}")
    return tuple(shape)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise _CannotRebuild(f"not an integer: {shortened(value)}")


def _parse_token(token: str, dtype: np.dtype) -> Any:
    if dtype.kind == "b":
        if token not in ("True", "False"):
            raise _CannotRebuild(f"not a bool: {shortened(token)}")
        return token == "True"
    if dtype.kind in "iu":
        return _integer(token)
    try:
        return float(token)
    except ValueError as error:
        raise _CannotRebuild(f"not a number: {shortened(token)}") from error


def _certainly_exact(token: str, value: np.floating) -> bool:
    """Whether a printed float ``token`` pins down ``value`` (its dtype) exactly.

    numpy prints at most ``precision`` digits (fractional digits in positional notation,
    mantissa digits in scientific), so the saved value lies within half a unit of the last
    printed place of ``token``; it is ``value`` for sure when the dtype has no other number
    that close, i.e. when the gap to ``value``'s neighbours exceeds one printed unit.
    """
    if not np.isfinite(value) or value == 0:
        return True
    precision = _PRINT_OPTIONS["precision"]
    exponent = int(token.lower().split("e")[1]) if "e" in token.lower() else 0
    resolution = 10.0 ** (exponent - precision)
    magnitude = abs(value)
    gap = min(np.spacing(magnitude), magnitude - np.nextafter(magnitude, magnitude.dtype.type(0)))
    return bool(gap > resolution)


def _parse_array(text: Any, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """An array from its ``str()`` in SB3's JSON, only when that text determines it exactly."""
    if not isinstance(text, str):
        raise _CannotRebuild(f"no printed values ({shortened(text)})")
    if "..." in text:
        raise _CannotRebuild("numpy printed only a summary of the array")
    tokens = text.replace("[", " ").replace("]", " ").split()
    if len(tokens) != math.prod(shape):
        raise _CannotRebuild(f"{len(tokens)} printed values for shape {shape}")
    array = np.array([_parse_token(token, dtype) for token in tokens], dtype=dtype).reshape(shape)
    with np.printoptions(**_PRINT_OPTIONS):
        if str(array) != text:
            raise _CannotRebuild("the printed values do not read back identically")
    if dtype.kind == "f":
        for token, value in zip(tokens, array.reshape(-1), strict=True):
            if not _certainly_exact(token, value):
                raise _CannotRebuild(f"the printed value {token} is rounded")
    return array


def _parse_scalar(text: str, dtype: np.dtype) -> Any:
    """A numpy scalar from its ``str()`` (shortest round-trip repr, so exact when it reads back)."""
    value = dtype.type(_parse_token(text, dtype))
    if str(value) != text:
        raise _CannotRebuild(f"the printed value {text} does not read back identically")
    return value


def _bound(desc: dict[str, Any], key: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A Box bound: from ``<key>_repr`` (gymnasium's scalar for uniform bounds) or the array."""
    short = desc.get(f"{key}_repr")
    if isinstance(short, str) and "[" not in short:
        return np.full(shape, _parse_scalar(short.strip(), dtype), dtype=dtype)
    return _parse_array(desc.get(key), dtype, shape)


def _box(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype, shape = _dtype(desc, "iufb"), _shape(desc)
    low, high = _bound(desc, "low", dtype, shape), _bound(desc, "high", dtype, shape)
    return spaces.Box(low=low, high=high, shape=shape, dtype=dtype)


def _discrete(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype = _dtype(desc, "iu")
    return spaces.Discrete(
        _integer(desc.get("n")), start=_integer(desc.get("start", 0)), dtype=dtype
    )


def _multi_discrete(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    dtype, shape = _dtype(desc, "iu"), _shape(desc)
    nvec = _parse_array(desc.get("nvec"), dtype, shape)
    start = _parse_array(desc["start"], dtype, shape) if "start" in desc else None
    return spaces.MultiDiscrete(nvec, dtype=dtype, start=start)


def _multi_binary(desc: dict[str, Any]) -> spaces.Space:
    from gymnasium import spaces

    n = desc.get("n")
    if isinstance(n, list):
        return spaces.MultiBinary([_integer(d) for d in n])
    return spaces.MultiBinary(_integer(n))


_SPACE_READERS = {
    _BOX: _box,
    _DISCRETE: _discrete,
    _MULTI_DISCRETE: _multi_discrete,
    _MULTI_BINARY: _multi_binary,
}


def space_from_json(desc: Any) -> spaces.Space:
    """A gymnasium space from the readable description SB3's JSON stores next to its pickle.

    Box (``dtype``, ``_shape``, bounds from ``low_repr`` / ``high_repr`` or the printed
    ``low`` / ``high``), Discrete (``n``, ``start``, ``dtype``), MultiDiscrete (``nvec``,
    ``start``) and MultiBinary (``n``). Raises :class:`WnrlError` when the description does not
    determine the space exactly (a Dict or other space, bounds numpy printed as a summary or
    rounded).
    """
    try:
        return _space_from_json(desc)
    except _CannotRebuild as error:
        raise WnrlError(f"cannot rebuild the space without unpickling: {error}") from error


def _space_from_json(desc: Any) -> spaces.Space:
    kind = desc.get(TYPE) if isinstance(desc, dict) else None
    reader = _SPACE_READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise _CannotRebuild(f"unsupported space type {shortened(kind)}")
    try:
        return reader(desc)
    except _CannotRebuild:
        raise
    except (ValueError, TypeError, AssertionError) as error:  # gymnasium refused the values
        raise _CannotRebuild(error_summary(error)) from error


def _class_name(space: Any) -> str:
    return f"<class '{type(space).__module__}.{type(space).__qualname__}'>"


def _check_described(desc: Any, space: spaces.Space, key: str, file: Path) -> None:
    """Compare an env space with what can be read of an unrebuildable description."""
    if not isinstance(desc, dict):
        return
    found = {
        "type": (desc.get(TYPE), _class_name(space)),
        "shape": (desc.get("_shape"), list(space.shape) if space.shape is not None else None),
        "dtype": (desc.get("dtype"), str(space.dtype) if space.dtype is not None else None),
    }
    for what, (stored, actual) in found.items():
        if stored is not None and stored != actual:
            raise WnrlError(
                f"{file}: the env's {key} does not match the model's ({what} {actual} != {stored})"
            )


def _spaces(
    data: dict[str, Any], env: Any, file: Path, overrides: dict[str, Any]
) -> tuple[spaces.Space, spaces.Space]:
    """Observation and action spaces: from ``env`` (checked against the file) or the JSON."""
    parsed: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key in ("observation_space", "action_space"):
        if key in overrides:
            parsed[key] = overrides.pop(key)
            continue
        try:
            parsed[key] = _space_from_json(data.get(key))
        except _CannotRebuild as error:
            problems[key] = str(error)
    if env is None:
        if problems:
            key, problem = next(iter(problems.items()))
            raise WnrlError(
                f"{file}: cannot rebuild the {key} without unpickling ({problem}); {ENV_HINT}"
            )
        return parsed["observation_space"], parsed["action_space"]
    for key in ("observation_space", "action_space"):
        actual = getattr(env, key)
        if key not in parsed:
            _check_described(data.get(key), actual, key, file)
        elif parsed[key] != actual:
            raise WnrlError(
                f"{file}: the env's {key} {shortened(actual)} does not match the model's "
                f"{shortened(parsed[key])}"
            )
    return env.observation_space, env.action_space
