"""Running the ``wnrl`` command and reading the run directory it writes (test helpers)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "wnrl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def only_run_dir(root: Path) -> Path:
    runs = [p for p in root.glob("*/*") if (p / "config.yaml").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    result: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(path))
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            result.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return result


def read_evaluations(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "evaluations.csv") as handle:
        return list(csv.DictReader(handle))
