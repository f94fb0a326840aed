"""Print every dependency of wnrl pinned to the lowest version pyproject.toml declares.

``.ci/run`` installs these pins in a separate venv and runs a smoke subset of the tests, so the
declared floors (``name>=X``) are versions that are installed and tested, not guesses::

    python scripts/floor_requirements.py            # one requirement per line
    pip install $(python scripts/floor_requirements.py)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_FLOOR = re.compile(
    r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*>=\s*([0-9][^,;\s]*)\s*(?:,\s*<\s*[0-9][^,;\s]*)?\s*$"
)


def floor_pins(dependencies: list[str]) -> list[str]:
    """``name[extras]>=X`` (or ``>=X,<Y``) -> ``name[extras]==X``; any other form is an error
    (a floor must be a plain lower bound to be pinned)."""
    pins = []
    for requirement in dependencies:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"floor_requirements: cannot pin {requirement!r} (want name>=X)")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def main() -> int:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    print("\n".join(floor_pins(project["dependencies"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
