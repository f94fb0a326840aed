"""Published results: the reporting rules' words, `scripts/results.py collect`, and `--check`
failing on any hand edit of a generated table, statistic, figure or quoted output."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from wnrl.analysis.estimates import Estimate
from wnrl.analysis.reporting import chance_note, excludes_even, verdict

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "results.py"


@pytest.mark.parametrize(
    ("estimate", "words"),
    [
        (Estimate(0.73, 0.51, 0.92), "better than none"),
        (Estimate(0.21, 0.00, 0.45), "worse than none"),
        (Estimate(0.63, 0.41, 0.84), "no difference detected at 5 seeds"),
        (Estimate(0.70, 0.50, 0.90), "no difference detected at 5 seeds"),  # touches 0.5
        (Estimate(0.50, 0.50, 0.50), "no difference detected at 5 seeds"),  # all ties
    ],
)
def test_verdict_says_better_or_worse_only_outside_even(estimate: Estimate, words: str) -> None:
    assert verdict(estimate, 5) == words
    assert excludes_even(estimate) == (words != "no difference detected at 5 seeds")


def test_chance_note_counts_what_chance_gives() -> None:
    note = chance_note(18, 2)
    assert note.startswith("18 comparisons, 2 of them")
    assert "about 0.9 of 18 95% intervals" in note


def _run(*args: str) -> subprocess.CompletedProcess:
    """The script as a checkout runs it where wnrl is not pip-installed: the interpreter's
    site-packages on the path, their .pth files (the editable install's) not processed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(site.getsitepackages())}
    return subprocess.run(
        [sys.executable, "-S", str(SCRIPT), *args],
        capture_output=True, text=True, timeout=600, env=env, cwd=tempfile.gettempdir(),
    )  # fmt: skip


@pytest.mark.slow
def test_collect_copies_the_raw_data_only(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "CartPole-v1" / "dqn-wn-s0"
    (run / "checkpoints" / "step-100").mkdir(parents=True)
    for name in ("config.yaml", "evaluations.csv", "progress.csv", "model.zip"):
        (run / name).write_text(name)
    (run / "checkpoints" / "step-100" / "config.yaml").write_text("not a run")
    dest = tmp_path / "docs" / "results" / "study" / "runs"
    assert _run("collect", str(tmp_path / "runs"), str(dest)).returncode == 0
    copied = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert copied == ["CartPole-v1/dqn-wn-s0/config.yaml", "CartPole-v1/dqn-wn-s0/evaluations.csv"]
    assert _run("collect", str(tmp_path / "runs"), str(dest), "--progress").returncode == 0
    assert (dest / "CartPole-v1" / "dqn-wn-s0" / "progress.csv").is_file()


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_check_passes_on_the_repository_and_fails_on_each_hand_edit(tmp_path: Path) -> None:
    """A copy of the published files passes; then one edit of each kind, and --check names
    every one of them (and exits 1) while changing nothing."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "README.md", copy / "README.md")
    for folder in ("scripts", "agents", "envs", "tests", "wnrl"):  # paths the docs name
        (copy / folder).symlink_to(ROOT / folder)
    clean = _run("--check", "--root", str(copy))
    assert clean.returncode == 0, clean.stderr

    readme = copy / "README.md"
    block = readme.read_text().split("<!-- results: learning-check/headline -->\n")[1]
    first_row = block.split("\n")[2]  # header, rule, the first agent
    _replace_once(readme, first_row, first_row.replace("| 0.", "| 1.", 1))
    stats = copy / "docs" / "results" / "learning-check" / "statistics.csv"
    lines = stats.read_text().splitlines()
    stats.write_text("\n".join([*lines[:-1], lines[-1].replace(",0.", ",0.9", 1)]) + "\n")
    figure = copy / "docs" / "results" / "learning-check" / "profiles.png"
    shutil.copy(copy / "docs" / "results" / "learning-check" / "CartPole-v1.png", figure)
    _replace_once(copy / "docs" / "reliability.md", "lost_max", "lost_most")
    results_page = copy / "docs" / "results.md"
    _replace_once(results_page, "## Ablations", "[gone](nowhere.md)\n\n## Ablations")
    edited = {path: path.read_bytes() for path in (readme, stats, figure)}

    result = _run("--check", "--root", str(copy))
    assert result.returncode == 1
    problems = result.stderr
    assert "README.md: block 'learning-check/headline' differs from the data" in problems
    assert "docs/results/learning-check/statistics.csv differs from the data" in problems
    assert "docs/results/learning-check/profiles.png was not drawn from this data" in problems
    assert "docs/reliability.md: block 'reliability/chaos-kills' differs" in problems
    assert "docs/results.md: link to missing nowhere.md" in problems
    assert all(path.read_bytes() == data for path, data in edited.items())  # check writes nothing


def test_fast_metrics_equal_rliables_to_the_bit() -> None:
    """The bootstrap's metrics are rliable's definitions computed without scipy's per-call
    overhead: on scores with and without ties, equal to rliable's own, bit for bit."""
    import numpy as np
    from rliable import metrics

    from wnrl.analysis.estimates import iqm, probability_of_improvement

    rng = np.random.default_rng(0)
    for shape_x, shape_y in [((5, 2), (5, 2)), ((7, 3), (4, 3)), ((10, 1), (10, 1))]:
        for values in (rng.normal(size=100), rng.integers(0, 4, size=100).astype(float)):
            x = rng.choice(values, shape_x)
            y = rng.choice(values, shape_y)
            assert iqm(x) == metrics.aggregate_iqm(x)
            assert probability_of_improvement(x, y) == metrics.probability_of_improvement(x, y)
    same = rng.normal(size=(5, 2))
    assert probability_of_improvement(same, same.copy()) == 0.5


#: run before the script: gymnasium, ale-py and SB3 look not installed (find_spec: None, import:
#: ModuleNotFoundError), as in an environment with only the analysis dependencies
WITHOUT_ENVS = """
import importlib.util, runpy, sys
BLOCKED = ("gymnasium", "ale_py", "stable_baselines3", "sb3_contrib", "minatar")
real_find_spec = importlib.util.find_spec
def find_spec(name, package=None):
    return None if name.split(".")[0] in BLOCKED else real_find_spec(name, package)
importlib.util.find_spec = find_spec
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Refuse())
sys.argv = sys.argv[1:]
sys.path.insert(0, sys.argv[0].rsplit("/", 1)[0])  # as `python script.py` does
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
def test_the_check_needs_neither_gymnasium_nor_sb3() -> None:
    """The published results are read from files: the check runs where only the analysis
    dependencies are installed."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_ENVS, str(SCRIPT), "--check"],
        capture_output=True, text=True, timeout=600, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "matches the committed data" in result.stdout


def test_a_python_without_the_analysis_reruns_in_the_project_venv_or_says_what_it_lacks(
    tmp_path: Path,
) -> None:
    """``python scripts/results.py`` outside the venv (here: site-packages off, ``-S``) runs
    again with the checkout's ``.venv`` (a stand-in that reports its arguments), or, with no
    venv, exits 2 with one line naming what is missing."""
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "results.py"
    shutil.copy(SCRIPT, script)
    bare = [sys.executable, "-S", str(script), "--check"]
    result = subprocess.run(bare, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "this Python lacks" in result.stderr
    assert "rliable" in result.stderr
    venv_python = tmp_path / ".venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.write_text('#!/bin/sh\necho "venv ran: $*"\n')
    venv_python.chmod(0o755)
    result = subprocess.run(bare, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == f"venv ran: {script} --check\n"
