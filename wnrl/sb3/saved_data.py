"""The ``data`` entry of an SB3 model file, read as JSON (nothing is unpickled).

An SB3 model file is a zip archive: ``data`` (JSON; every value that is not plain JSON is a
cloudpickled object, base64-encoded under ``":serialized:"``, next to its first-level
attributes in readable form), ``policy.pth`` / ``*.optimizer.pth`` (state dicts) and
``pytorch_variables.pth`` (e.g. SAC's ``log_ent_coef``), the ``.pth`` entries written by
``torch.save``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wnrl.errors import WnrlError, error_summary

if TYPE_CHECKING:
    pass


SERIALIZED = ":serialized:"


TYPE = ":type:"


TRUST_HINT = "use weights_only=False if you trust the file"


ENV_HINT = "pass env= with the model's environment to load it with weights_only=True"


def resolve_path(path: str | os.PathLike[str]) -> Path:
    """The model file: ``path`` itself, else ``path + ".zip"`` as SB3 tries; WnrlError if none."""
    given = Path(path)
    for candidate in (given, Path(f"{given}.zip")):
        if candidate.is_file():
            return candidate
    if given.is_dir():
        raise WnrlError(f"model file {given} is a directory, not an SB3 model zip")
    raise WnrlError(f"model file not found: {given}")


def read_data(file: Path, require_params: bool = True) -> dict[str, Any]:
    """The ``data`` entry of an SB3 zip, parsed with ``json.loads`` (nothing is unpickled)."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "data" not in names:
                raise WnrlError(f"{file} is not an SB3 model file: it has no 'data' entry")
            if require_params and "policy.pth" not in names:
                raise WnrlError(f"{file} is not an SB3 model file: it has no 'policy.pth' entry")
            raw = archive.read("data")
    except zipfile.BadZipFile as error:
        raise WnrlError(f"{file} is not an SB3 model file (not a zip archive)") from error
    except (OSError, EOFError, RuntimeError) as error:  # truncated / unreadable archive
        raise WnrlError(f"cannot read model file {file}: {error_summary(error)}") from error
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WnrlError(f"corrupt model file {file}: its 'data' entry is not valid JSON") from error
    if not isinstance(data, dict):
        raise WnrlError(f"corrupt model file {file}: its 'data' entry is not a JSON object")
    return data
