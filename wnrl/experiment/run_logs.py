"""The logs of a run that survive interruptions: every row up to the resumed checkpoint, once.

A resumed run continues from its newest intact checkpoint at step ``S``. What the interrupted
process logged past ``S`` describes training that the checkpoint does not contain, so it is
dropped (and the caller says so), and the resumed process appends after the rest:

* ``progress.csv``: SB3's :class:`~stable_baselines3.common.logger.CSVOutputFormat` opens its
  file with ``"w+"``; :class:`ContinuedCSVOutputFormat` keeps the rows with
  ``time/total_timesteps <= S`` (rewritten atomically) and appends with SB3's own writer;
* TensorBoard: SB3's writer with ``purge_step=S`` (TensorBoard hides the events at steps
  ``>= S`` written before the restart, so curves never fold back);
* ``evaluations.csv``: rows with ``step > S`` are dropped (:func:`truncate_evaluations`).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from stable_baselines3.common.logger import (
    CSVOutputFormat,
    Logger,
    TensorBoardOutputFormat,
    configure,
)
from torch.utils.tensorboard import SummaryWriter

from wnrl.experiment.checkpoints import atomic_write_text
from wnrl.experiment.rundir import EVALUATIONS, PROGRESS

__all__ = [
    "ContinuedCSVOutputFormat",
    "ContinuedTensorBoardOutputFormat",
    "run_logger",
    "truncate_evaluations",
    "STEP_COLUMN",
]

#: The column of SB3's progress.csv that holds the environment step of a row.
STEP_COLUMN = "time/total_timesteps"


def _keep_rows_up_to(path: Path, step: int, column: str) -> tuple[list[str], int]:
    """Rewrite the CSV file ``path`` (atomically) with only the rows whose ``column`` is at
    most ``step``; returns its header and how many rows were dropped. Rows without a step
    (an empty cell) are kept. A missing or empty file gives ``([], 0)``."""
    if not path.is_file():
        return [], 0
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return [], 0
    header, body = rows[0], rows[1:]
    index = header.index(column) if column in header else None
    kept = [row for row in body if index is None or _step_of(row, index) <= step]
    if len(kept) != len(body):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *kept])
        atomic_write_text(path, out.getvalue())
    return header, len(body) - len(kept)


def _step_of(row: list[str], index: int) -> float:
    try:
        return float(row[index]) if index < len(row) and row[index] != "" else float("-inf")
    except ValueError:
        return float("-inf")


class ContinuedCSVOutputFormat(CSVOutputFormat):
    """SB3's CSV writer appending to an existing ``progress.csv`` after its rows up to ``step``
    (columns in the file's order; new keys are added by SB3's own rewrite)."""

    def __init__(self, filename: str, step: int) -> None:
        header, self.dropped = _keep_rows_up_to(Path(filename), step, STEP_COLUMN)
        # what CSVOutputFormat.__init__ sets, with the file opened for appending
        self.file = open(filename, "r+" if Path(filename).is_file() else "w+")  # noqa: SIM115
        self.file.seek(0, os.SEEK_END)
        self.keys: list[str] = list(header)
        self.separator = ","
        self.quotechar = '"'


class ContinuedTensorBoardOutputFormat(TensorBoardOutputFormat):
    """SB3's TensorBoard writer that purges events at steps ``>= step`` left by an
    interrupted process (``SummaryWriter(purge_step=...)``)."""

    def __init__(self, folder: str, step: int) -> None:
        # what TensorBoardOutputFormat.__init__ sets, with purge_step
        self.writer = SummaryWriter(log_dir=folder, purge_step=step)
        self._is_closed = False


def run_logger(run_dir: Path, resumed_from: int | None) -> tuple[Logger, int]:
    """SB3's logger writing TensorBoard events and ``progress.csv`` into ``run_dir``; for a run
    resumed at step ``resumed_from``, continuing the existing logs. Returns the logger and the
    number of progress.csv rows dropped (those past ``resumed_from``)."""
    folder = str(run_dir)
    os.makedirs(folder, exist_ok=True)
    if resumed_from is None:
        return configure(folder, ["tensorboard", "csv"]), 0
    csv_format = ContinuedCSVOutputFormat(os.path.join(folder, PROGRESS), resumed_from)
    formats = [ContinuedTensorBoardOutputFormat(folder, resumed_from), csv_format]
    return Logger(folder=folder, output_formats=formats), csv_format.dropped


def truncate_evaluations(run_dir: Path, step: int) -> int:
    """Drop the rows of ``evaluations.csv`` past ``step``; returns how many were dropped."""
    return _keep_rows_up_to(run_dir / EVALUATIONS, step, "step")[1]
