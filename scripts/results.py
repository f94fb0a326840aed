"""Regenerate every published results table and figure from the raw data committed in the repo.

    python scripts/results.py            # rewrite the generated files, figures and blocks
    python scripts/results.py --check    # exit 1 if anything published differs from the data
    python scripts/results.py collect RUNS_ROOT docs/results/STUDY/runs [--progress]
        [--finished-only]

Each study lives in ``docs/results/<study>/``: ``commands.txt`` (how its runs were made), the raw
data of every run under ``runs/`` (``config.yaml`` and ``evaluations.csv``; ``progress.csv`` where
a figure needs the training curve) and what this script generates from them: ``index.md`` (the
whole report), ``summary.csv`` and ``statistics.csv``, and the figures. Tables quoted in the
README and the docs pages sit between ``<!-- results: NAME -->`` and ``<!-- /results -->``
markers and are rewritten here too; text outputs of evidence scripts (``output.txt``, the chaos
logs) are quoted verbatim the same way. Statistics follow the reporting rules of
:mod:`wnrl.analysis.reporting` and are seeded (:mod:`wnrl.analysis.estimates`): ``--check``
regenerates everything, compares text byte for byte and figures by the digest of the data they
plot, checks that every relative link and named path in the Markdown exists, and trains nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository (--root: a copy of it)
if str(ROOT) not in sys.path:  # this checkout's wnrl, whether or not it is pip-installed
    sys.path.insert(0, str(ROOT))
#: what the analysis imports (wnrl's core dependencies, without gymnasium or SB3)
ANALYSIS_MODULES = ("numpy", "torch", "yaml", "matplotlib", "rliable")
#: the project's virtual environment, as the README's commands make it
PROJECT_VENV = ROOT / ".venv"


def _use_an_interpreter_with_the_analysis() -> None:
    """Under a Python without the analysis dependencies (a bare ``python`` outside the venv),
    run again with the project's ``.venv`` when there is one; otherwise a one-line error."""
    missing = [name for name in ANALYSIS_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    venv_python = PROJECT_VENV / "bin" / "python"
    in_venv = Path(sys.prefix).resolve() == PROJECT_VENV.resolve()
    if venv_python.is_file() and not in_venv:
        os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])
    sys.stderr.write(
        f"results.py: error: this Python lacks {', '.join(missing)}; install the project "
        "(pip install -e .) or run it with the project's venv\n"
    )
    sys.exit(2)


_use_an_interpreter_with_the_analysis()

from results_studies import STUDIES, Output  # noqa: E402

from wnrl.analysis.plots import figure_digest  # noqa: E402
from wnrl.experiment.run_state import run_state  # noqa: E402
from wnrl.experiment.rundir import CHECKPOINTS, CONFIG, EVALUATIONS, PROGRESS  # noqa: E402

MARKER = re.compile(
    r"(?P<open><!-- results: (?P<name>[\w./+-]+) -->\n)(?P<body>.*?)(?P<close><!-- /results -->)",
    re.S,
)
#: Markdown files that may hold generated blocks and whose links must resolve
PAGES = ("README.md", "docs/**/*.md")
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
NAMED_PATH = re.compile(r"`(?P<path>(?:docs|scripts|agents|envs|tests|wnrl)/[^`\s*<>{}$]+)`")


@dataclass
class Findings:
    """What differs between the published files under ``root`` and what the data gives."""

    root: Path
    problems: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def name(self, path: Path) -> str:
        return str(path.relative_to(self.root))


def markdown_pages(root: Path) -> list[Path]:
    pages: dict[Path, None] = {}
    for pattern in PAGES:
        for path in sorted(root.glob(pattern)):
            pages[path] = None
    return list(pages)


def apply_blocks(root: Path, blocks: dict[str, str], check: bool, findings: Findings) -> None:
    """Rewrite (or compare) every marked block of the Markdown pages; every block a page names
    must be one the studies make, and every block made must appear somewhere."""
    used: set[str] = set()
    for page in markdown_pages(root):
        text = page.read_text()

        def replace(match: re.Match, page: Path = page) -> str:
            name = match["name"]
            if name not in blocks:
                findings.problems.append(f"{findings.name(page)}: no study makes block {name!r}")
                return match[0]
            used.add(name)
            body = blocks[name].rstrip("\n") + "\n"
            if check and match["body"] != body:
                what = f"{findings.name(page)}: block {name!r} differs from the data"
                findings.problems.append(what)
            return match["open"] + body + match["close"]

        new = MARKER.sub(replace, text)
        if new != text and not check:
            page.write_text(new)
            findings.written.append(findings.name(page))
    for name in sorted(set(blocks) - used):
        findings.problems.append(f"block {name!r} is made but no page shows it")


def apply_files(files: dict[Path, str], check: bool, findings: Findings) -> None:
    for path, text in files.items():
        old = path.read_text() if path.is_file() else None
        if old == text:
            continue
        if check:
            what = "is missing" if old is None else "differs from the data"
            findings.problems.append(f"{findings.name(path)} {what}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            findings.written.append(findings.name(path))


def apply_figures(
    figures: dict[Path, Callable[[Path], Path]], check: bool, findings: Findings
) -> None:
    """Draw each figure; in check mode into a scratch folder, comparing the data digests."""
    with tempfile.TemporaryDirectory() as scratch:
        for n, (path, draw) in enumerate(figures.items()):
            drawn = draw(Path(scratch) / f"{n}.png")
            expected = figure_digest(drawn)
            if path.is_file() and figure_digest(path) == expected:
                continue
            if check:
                what = "is missing" if not path.is_file() else "was not drawn from this data"
                findings.problems.append(f"{findings.name(path)} {what}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(drawn, path)
                findings.written.append(findings.name(path))


def check_links(root: Path, findings: Findings) -> None:
    """Every relative link and every named repository path in the Markdown exists."""
    for page in markdown_pages(root):
        text = page.read_text()
        for match in LINK.finditer(text):
            target = match["target"].split("#")[0]
            if not target or re.match(r"^[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                findings.problems.append(f"{findings.name(page)}: link to missing {target}")
        for match in NAMED_PATH.finditer(text):
            path = match["path"].rstrip(".,:;)")
            if not (root / path).exists():
                findings.problems.append(f"{findings.name(page)}: names missing path {path}")


def collect(source: Path, dest: Path, progress: bool, finished_only: bool = False) -> int:
    """Copy the raw data of every run under ``source`` into ``dest`` (same relative layout):
    ``config.yaml``, ``evaluations.csv`` and, with ``progress``, ``progress.csv``; with
    ``finished_only``, of the runs that finished (a study still running)."""
    names = [CONFIG, EVALUATIONS] + ([PROGRESS] if progress else [])
    copied = 0
    for config in sorted(source.rglob(CONFIG)):
        run_dir = config.parent
        if CHECKPOINTS in run_dir.parts:
            continue
        if finished_only and run_state(run_dir, verify=False).kind != "finished":
            continue
        target = dest / run_dir.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, target / name)
        copied += 1
    return copied


def regenerate(root: Path, check: bool) -> Findings:
    """Build every study from the raw data under ``root``; write what differs (or, with
    ``check``, report it)."""
    findings = Findings(root)
    combined = Output()
    for build in STUDIES:
        combined.merge(build(root))
    apply_files(combined.files, check, findings)
    apply_figures(combined.figures, check, findings)
    apply_blocks(root, combined.blocks, check, findings)
    check_links(root, findings)
    return findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: here)")
    sub = parser.add_subparsers(dest="command")
    gather = sub.add_parser("collect", help="copy runs' raw data into a study's runs/ folder")
    gather.add_argument("source", type=Path, help="a logdir of run directories")
    gather.add_argument("dest", type=Path, help="docs/results/<study>/runs[/<variant>]")
    gather.add_argument("--progress", action="store_true", help="also progress.csv")
    gather.add_argument(
        "--finished-only", action="store_true", help="only finished runs (a study still running)"
    )
    args = parser.parse_args()
    if args.command == "collect":
        count = collect(args.source, args.dest, args.progress, args.finished_only)
        print(f"{count} runs' raw data copied into {args.dest}")
        return 0 if count else 1
    findings = regenerate(args.root.resolve(), args.check)
    for line in findings.written:
        print(f"wrote {line}")
    for line in findings.problems:
        print(f"results: {line}", file=sys.stderr)
    if findings.problems:
        print(
            f"{len(findings.problems)} published figure(s) or link(s) do not match the committed "
            "data: run python scripts/results.py",
            file=sys.stderr,
        )
        return 1
    print("every published table and figure matches the committed data" if args.check else "done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
