"""``orch agents --check``: shipped modules pass; third-party imports, post-3.6 syntax and
modules, relative imports and bad declarations fail naming file:line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from orch.agents.checker import check_paths
from orch.cli import main as cli_main

REPO = Path(__file__).resolve().parents[3]
GOOD = '''import os
from orch_runtime import Abort

AGENT = {"name": "%s", "description": "d", "version": "1", "actions": {"go": {}}}


def go(request):
    return {"cwd": os.getcwd()}
'''


def problems_of(tmp_path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return [str(problem) for problem in check_paths([path])]


def test_every_shipped_module_passes():
    assert [str(problem) for problem in check_paths(sorted((REPO / "modules").glob("*.py")))] == []


def test_a_good_module_passes(tmp_path):
    assert problems_of(tmp_path, "good", GOOD % "good") == []


@pytest.mark.parametrize("line, expected", [
    ("import requests", "4: imports 'requests', which is not in the standard library"),
    ("from yaml import safe_load", "4: imports 'yaml', which is not in the standard library"),
    ("import dataclasses", "4: imports 'dataclasses', which Python 3.6 does not have"),
    ("from importlib.metadata import version", "4: imports 'importlib.metadata', which Python 3.6"),
    ("import imp", "4: imports 'imp', which newer Pythons no longer have"),
    ("from . import sibling", "4: relative import"),
    ("if (x := 1):\n    pass", "4: syntax newer than Python 3.6"),
    ("def f(a, /):\n    pass", "4: syntax newer than Python 3.6"),
    ("def f(:\n    pass", "4: syntax error"),
])
def test_bad_modules_fail_naming_the_line(tmp_path, line, expected):
    body = GOOD % "bad"
    lines = body.splitlines()
    lines.insert(3, line)
    found = problems_of(tmp_path, "bad", "\n".join(lines) + "\n")
    assert len(found) == 1 and found[0].startswith(f"{tmp_path}/bad.py:{expected}"), found


def test_declaration_errors_are_reported(tmp_path):
    found = problems_of(tmp_path, "decl", (GOOD % "decl").replace('"version"', '"verison"'))
    assert len(found) == 1 and "decl.py:4: unknown key 'verison'" in found[0]


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.py"
    good.write_text(GOOD % "good")
    bad = tmp_path / "bad.py"
    bad.write_text("import requests\n" + GOOD % "bad")
    stdout = io.StringIO()
    assert run_agents(["--check", str(good)], stdout) == 0
    assert "ok: 1 path(s) checked" in stdout.getvalue()
    stdout = io.StringIO()
    assert run_agents(["--check", str(good), str(bad)], stdout) == 1
    assert stdout.getvalue().startswith(f"{bad}:1: imports 'requests'")


def run_agents(argv, stdout) -> int:
    from orch.cli.env import Environment

    env = Environment(stdout=stdout, stderr=io.StringIO())
    return cli_main(["agents", *argv], env)
