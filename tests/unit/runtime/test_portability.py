"""Code pushed to hosts parses as Python 3.6 and imports only the standard library."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PUSHED = [REPO / "orch" / "runtime" / "core.py", *sorted((REPO / "modules").glob("*.py"))]

# Standard-library modules that exist in Python 3.6 (no dataclasses, contextvars, zoneinfo...).
STDLIB_36 = {
    "abc", "argparse", "base64", "binascii", "calendar", "codecs", "collections", "contextlib",
    "difflib",
    "copy", "csv", "datetime", "errno", "fcntl", "fnmatch", "functools", "glob", "grp",
    "hashlib", "hmac", "http", "io", "ipaddress", "itertools", "json", "locale", "logging",
    "math", "operator", "os", "platform", "posixpath", "pwd", "random", "re", "select",
    "shlex", "shutil", "signal", "socket", "stat", "string", "struct", "subprocess", "sys",
    "tempfile", "textwrap", "threading", "time", "traceback", "types", "urllib", "uuid",
    "zlib", "gzip", "tarfile", "configparser", "getpass", "pathlib", "queue", "resource",
    "_sha256", "_sha2",  # the interpreter's built-in sha256 (3.6-3.11, 3.12+)
    "marshal",  # as the first stage (orch/runtime/bootstrap.py) uses on every host
}


def imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports cannot work on a host"
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PUSHED, ids=lambda path: path.name)
def test_parses_as_python_36_and_imports_only_stdlib(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path), feature_version=(3, 6))
    names = imported_names(tree)
    assert "__future__" not in names, "from __future__ import annotations needs 3.7"
    kit = {"orch_runtime"} if path.parent.name == "modules" else set()  # the author kit
    assert names <= STDLIB_36 | kit, f"{path.name} imports {sorted(names - STDLIB_36 - kit)}"


def test_there_are_modules_to_check():
    assert any(path.name == "rpcutil.py" for path in PUSHED)


def test_core_does_no_work_at_import():
    code = ("import sys, orch.runtime.core as core; "
            "assert callable(core.validate_args) and callable(core.check_value); "
            "sys.stdout.write('clean')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, cwd=REPO, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "clean" and result.stderr == ""
