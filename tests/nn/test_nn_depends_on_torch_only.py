"""wnrl.nn needs torch alone and changes nothing in torch or SB3 (fresh interpreters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import wnrl.layers as layers_module
import wnrl.nn.functional as functional

pytestmark = pytest.mark.slow  # each test starts a Python process


def run_snippet(code: str) -> str:
    """Run ``code`` in a fresh Python process; its stdout (the test fails if it fails)."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_layers_module_depends_on_torch_only() -> None:
    """wnrl.layers imports torch alone: it works where SB3, gymnasium and ale-py are missing."""
    code = (
        "import sys\n"
        "for name in ('stable_baselines3', 'sb3_contrib', 'gymnasium', 'ale_py'):\n"
        "    sys.modules[name] = None  # import raises ImportError: as if not installed\n"
        "import torch, wnrl.layers as L\n"
        "net = L.weight_norm(torch.nn.Sequential(torch.nn.Linear(3, 2)))\n"
        "L.data_dependent_init(net, torch.randn(8, 3))\n"
        "print(net(torch.randn(4, 3)).shape)\n"
    )
    assert "torch.Size([4, 2])" in run_snippet(code)
    import ast

    files = [Path(layers_module.__file__), *Path(functional.__file__).parent.glob("*.py")]
    imported = set()
    for file in files:
        tree = ast.parse(file.read_text())
        imported |= {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
            for alias in node.names
        }  # fmt: skip
        imported |= {
            node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        }  # fmt: skip
    # wnrl.names: the lists of names every layer reads (the standard library only)
    outside = {name for name in imported if not name.startswith("wnrl.nn") and name != "wnrl.names"}
    assert {name.split(".")[0] for name in outside} <= {
        "torch",
        "__future__",
        "contextlib",
        "fnmatch",
        "collections",
        "dataclasses",
        "typing",
        "inspect",
    }, outside


def test_importing_wnrl_changes_nothing_in_torch_or_sb3() -> None:
    """No import-time patches: torch's optimizer hooks and kernel lists, Parameter.data and
    SB3's own policy names are as they were before ``import wnrl``."""
    code = (
        "import torch, torch.optim.optimizer as o, torch.utils._foreach_utils as f\n"
        "from stable_baselines3 import DQN\n"
        "before = (dict(o._global_optimizer_post_hooks), dict(o._global_optimizer_pre_hooks),\n"
        "          list(o._foreach_supported_types), list(f._foreach_supported_types),\n"
        "          torch.nn.Parameter.data, dict(DQN.policy_aliases))\n"
        "import wnrl, wnrl.layers, wnrl.policies, wnrl.cli\n"
        "after = (dict(o._global_optimizer_post_hooks), dict(o._global_optimizer_pre_hooks),\n"
        "         list(o._foreach_supported_types), list(f._foreach_supported_types),\n"
        "         torch.nn.Parameter.data, dict(DQN.policy_aliases))\n"
        "assert before[:5] == after[:5], (before, after)\n"
        "added = set(after[5]) - set(before[5])\n"
        "assert all(after[5][k] is v for k, v in before[5].items())  # SB3's names untouched\n"
        "assert added == {'WNMlpPolicy', 'WNCnnPolicy', 'WNMultiInputPolicy'}, added\n"
    )
    run_snippet(code)
