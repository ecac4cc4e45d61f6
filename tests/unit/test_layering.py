"""The package's shape, kept by a test: imports point one way, and only the CLI talks to people.

STYLE.md "For orch" 1-3: ``cli → play → rpc → transport``; selection, inventory, facts and
config never open SSH; transport knows hosts and bytes, not plays; nothing below ``orch/cli``
and ``orch/output`` prints, prompts or exits; rich is loaded only by ``orch/output``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ORCH = Path(__file__).resolve().parents[2] / "orch"

# package -> packages it must never import (directly, at any depth of its modules)
FORBIDDEN = {
    "transport": {"inventory", "play", "select", "output", "rpc", "facts", "journal", "cli"},
    "inventory": {"transport", "rpc", "play", "cli", "output", "journal"},
    "select": {"transport", "rpc", "play", "cli", "output", "journal"},
    "facts": {"transport", "rpc", "play", "cli", "output", "journal"},
    "rpc": {"play", "cli", "inventory", "select", "journal"},
    "journal": {"transport", "rpc", "play", "cli"},
    "output": {"transport", "rpc", "play", "cli", "inventory", "select", "facts", "journal"},
    "agents": {"transport", "rpc", "play", "cli", "output"},
    "play": {"cli"},
}


def _python_files(package: str) -> list[Path]:
    path = ORCH / package
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def _imported_orch_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "orch" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    for path in _python_files(package):
        bad = _imported_orch_packages(path) & FORBIDDEN[package]
        assert not bad, f"{path.relative_to(ORCH.parent)} imports orch.{', orch.'.join(sorted(bad))}"


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                names.add(f"{func.value.id}.{func.attr}")
    return names


# Programs of their own (the lab's app server and webhook, the runtime on hosts) may print.
OWN_PROGRAMS = {"runtime/core.py", "runtime/bootstrap.py", "runtime/gate.py", "lab/appserver.py", "lab/webhook.py"}


def test_nothing_below_the_cli_prints_prompts_or_exits():
    for path in sorted(ORCH.rglob("*.py")):
        relative = path.relative_to(ORCH).as_posix()
        if relative.startswith(("cli/", "output/")) or relative in OWN_PROGRAMS:
            continue
        bad = _calls(path) & {"print", "input", "sys.exit", "exit", "quit", "os._exit"}
        assert not bad, f"orch/{relative} calls {', '.join(sorted(bad))}"


def test_rich_is_loaded_only_by_output():
    for path in sorted(ORCH.rglob("*.py")):
        relative = path.relative_to(ORCH).as_posix()
        if relative.startswith("output/"):
            continue
        text = path.read_text(encoding="utf-8")
        assert "import rich" not in text and "from rich" not in text, f"orch/{relative} imports rich"
