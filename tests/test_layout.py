"""The package layout keeps its layers: lower layers never import higher ones, no import cycles,
function-local imports only where import time or an optional dependency needs them, small
modules that say their job; the tests' modules are small too, one folder per layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wnrl"
TESTS = Path(__file__).resolve().parent

#: layer of each part of wnrl (lower numbers are lower layers; see ../DESIGN "Layers of the code")
LAYERS = {
    "wnrl.errors": 0,
    "wnrl.atari_settings": 0,
    "wnrl.names": 0,
    "wnrl.nn": 1,
    "wnrl.sb3": 2,
    "wnrl.envs": 3,
    "wnrl.experiment": 4,
    "wnrl.sweep": 5,
    "wnrl.analysis": 5,
    "wnrl.cli": 6,
}
#: the public entry points above every layer (``import wnrl``, the public import paths); code
#: inside the layers never imports them
ENTRY_POINTS = {
    "wnrl",
    "wnrl.__main__",
    "wnrl.layers",
    "wnrl.policies",
    "wnrl.callbacks",
    "wnrl.buffers",
}
#: third-party roots ``wnrl.nn`` may import: torch alone
NN_ALLOWED = {"torch"}
MAX_LINES = 400
#: test modules (and their helpers) stay under this many lines
MAX_TEST_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str | None:
    """The layer key (``wnrl.nn``, ``wnrl.errors``...) a wnrl module belongs to, if any."""
    for key in sorted(LAYERS, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key
    return None


def imports(path: Path) -> list[tuple[str, bool, int]]:
    """``(imported module, inside a function, line)`` for every import statement of a file.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module."""
    tree = ast.parse(path.read_text())
    local: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local |= {id(sub) for sub in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in local, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                name = sub if sub in MODULES else node.module
                found.append((name, id(node) in local, node.lineno))
    return found


def test_every_module_belongs_to_a_layer_or_is_an_entry_point() -> None:
    loose = [name for name in MODULES if name not in ENTRY_POINTS and part_of(name) is None]
    assert not loose, f"modules outside the layers: {loose}"


def layer_violations(name: str, path: Path) -> list[str]:
    """The imports of module ``name`` (file ``path``) that break the layers: a public entry
    point, a wnrl module outside the layers, a higher or sibling layer."""
    own = part_of(name)
    found = []
    for imported, _, line in imports(path):
        if not imported.startswith("wnrl") or imported == "wnrl":  # the root: __version__
            continue
        where = f"{name}:{line} imports {imported}"
        other = part_of(imported)
        if imported in ENTRY_POINTS:
            found.append(f"{where}: a public entry point, not a layer")
        elif other is None:
            found.append(f"{where}: outside the layers")
        elif other != own and LAYERS[other] >= LAYERS[own]:
            found.append(f"{where} (a higher or sibling layer)")
    return found


@pytest.mark.parametrize("name", [n for n in MODULES if n not in ENTRY_POINTS])
def test_modules_import_only_their_own_layer_or_lower(name: str) -> None:
    assert not layer_violations(name, MODULES[name])


#: standard library modules ``wnrl.nn`` imports
NN_STDLIB = {"__future__", "collections", "contextlib", "dataclasses", "fnmatch", "inspect"}
NN_STDLIB |= {"typing"}


def nn_outside_imports(name: str, path: Path) -> list[str]:
    """The imports of ``path`` besides torch, the standard library, ``wnrl.nn`` itself and
    ``wnrl.names`` (the lists of names, standard library only)."""
    found = []
    for imported, _, line in imports(path):
        own = imported.startswith("wnrl.nn") or imported == "wnrl.names"
        if not own and imported.split(".")[0] not in NN_ALLOWED | NN_STDLIB:
            found.append(f"{name}:{line} imports {imported}")
    return found


def test_nn_imports_torch_and_the_standard_library_only() -> None:
    """``wnrl.nn`` (``wnrl.layers``) needs torch alone."""
    found = [
        problem
        for name, path in MODULES.items()
        if part_of(name) == "wnrl.nn"
        for problem in nn_outside_imports(name, path)
    ]
    assert not found


def test_no_import_cycles() -> None:
    graph = {
        name: {imported for imported, _, _ in imports(path) if imported in MODULES}
        for name, path in MODULES.items()
    }
    # a package's __init__ is imported with every one of its modules: an edge to the package
    graph = {name: {t for t in targets if t != name} for name, targets in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in graph[node]:
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node)


def test_function_local_imports_of_wnrl_only_in_the_cli() -> None:
    """The CLI imports the library when a command runs (``wnrl --help`` stays fast); nowhere
    else does wnrl import its own modules inside a function."""
    offenders = [
        f"{name}:{line} imports {imported}"
        for name, path in MODULES.items()
        if part_of(name) != "wnrl.cli"
        for imported, local, line in imports(path)
        if local and imported.startswith("wnrl")
    ]
    assert not offenders, offenders


@pytest.mark.parametrize("name", list(MODULES))
def test_modules_are_small_and_say_their_job(name: str) -> None:
    path = MODULES[name]
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES})"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and docstring.strip().splitlines()[0], f"{name} has no docstring"


def test_a_lower_layer_importing_a_higher_one_is_caught(tmp_path: Path) -> None:
    """The checks above can fail: a ``wnrl.nn`` module importing SB3 code is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text('"""x"""\nfrom wnrl.sb3.policies import WNDQNPolicy\nimport stable_baselines3\n')
    higher = "wnrl.nn.bad:2 imports wnrl.sb3.policies"
    assert layer_violations("wnrl.nn.bad", bad) == [f"{higher} (a higher or sibling layer)"]
    outside = nn_outside_imports("wnrl.nn.bad", bad)
    assert outside == [higher, "wnrl.nn.bad:3 imports stable_baselines3"]


def test_every_subpackage_ships_in_the_wheel() -> None:
    """pyproject.toml lists its packages by name: a subpackage missing there is missing from
    every non-editable install."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    block = re.search(r"^packages = \[(.*?)\]", text, flags=re.S | re.M)
    assert block, "pyproject.toml lists no packages"
    listed = set(re.findall(r'"([\w.]+)"', block.group(1)))
    packages = {module_name(init) for init in PACKAGE.rglob("__init__.py")}
    assert packages <= listed, packages - listed


def test_every_per_agent_table_covers_the_one_list_of_agents() -> None:
    """The agents are listed once (``wnrl.names.AGENTS``); every table keyed by agent has
    exactly those keys, in that order."""
    from wnrl.experiment.presets import ACTION_SPACES, ALGORITHMS
    from wnrl.names import AGENTS, BASELINE, NORM_ORDER, NORMS
    from wnrl.nn.norms import NORM_DESCRIPTIONS
    from wnrl.sb3.policies import WN_POLICIES

    for table in (ALGORITHMS, ACTION_SPACES, WN_POLICIES):
        assert tuple(table) == AGENTS
    assert tuple(NORM_DESCRIPTIONS) == NORMS and sorted(NORM_ORDER) == sorted(NORMS)
    assert NORM_ORDER[0] == BASELINE


def files_over_the_limit(paths: list[Path], limit: int) -> list[str]:
    """``path: N lines`` for each file of ``paths`` with ``limit`` lines or more."""
    counts = {path: path.read_text().count("\n") for path in paths}
    return [f"{path}: {n} lines" for path, n in counts.items() if n >= limit]


TEST_FILES = sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda path: str(path.relative_to(TESTS)))
def test_test_modules_are_under_400_lines(path: Path) -> None:
    assert not files_over_the_limit([path], MAX_TEST_LINES)


def test_a_test_module_of_400_lines_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a file of 400 lines is reported, one of 399 is not."""
    long, short = tmp_path / "test_long.py", tmp_path / "test_short.py"
    long.write_text("x = 1\n" * 400)
    short.write_text("x = 1\n" * 399)
    assert files_over_the_limit([long, short], MAX_TEST_LINES) == [f"{long}: 400 lines"]


def test_test_files_have_unique_names() -> None:
    """Test folders have no ``__init__.py``: pytest imports each file by its name alone, so two
    files of one name in two folders would collide."""
    names = [path.name for path in TEST_FILES if path.name != "conftest.py"]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
