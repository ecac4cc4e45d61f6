"""``orch agents --check PATH…``: will this module file work on every host orch supports?

Hosts have only ``python3`` (3.6 or newer) and its standard library, so a module (and each
helper it ``requires``) must:

- parse with Python 3.6's grammar (``ast.parse(..., feature_version=(3, 6))``: no walrus,
  positional-only parameters, ``match``, parenthesised context managers, ...);
- import only modules that are in the standard library of Python 3.6 and still in today's
  (``sys.stdlib_module_names`` less what came later or is gone since), ``orch_runtime`` (the
  runtime's author kit), ``__future__``, and the helpers it declares;
- carry a valid declaration (the same check the controller runs before every call).

What it cannot see: a newer keyword argument of an old function (``subprocess.run(
capture_output=True)`` is 3.7), imports built at run time. Run your module's tests on a
Python 3.6 too (docs/modules.md).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from orch.agents import authoring
from orch.errors import InputError

#: Standard modules that appeared after Python 3.6 (top level names and submodules).
NEWER_THAN_36 = frozenset({
    "contextvars", "_contextvars", "dataclasses", "graphlib", "zoneinfo", "tomllib",
    "_zoneinfo", "_tokenize", "_typing", "_wmi", "_pydatetime", "_pylong",
    "importlib.metadata", "importlib.resources", "asyncio.runners", "asyncio.timeouts",
    "asyncio.taskgroups", "asyncio.exceptions", "asyncio.staggered", "asyncio.threads",
    "multiprocessing.shared_memory", "unittest.async_case", "wsgiref.types",
    "_statistics",
})
#: Standard modules removed since (PEP 594 and earlier): gone from newer hosts.
REMOVED_SINCE = frozenset({
    "asynchat", "asyncore", "imp", "distutils", "smtpd", "aifc", "audioop", "cgi", "cgitb",
    "chunk", "crypt", "imghdr", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes",
    "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib", "lib2to3", "binhex", "formatter",
    "parser", "symbol", "macpath", "dummy_threading", "_dummy_thread",
})
#: Names a module may import besides the standard library.
KIT = frozenset({"orch_runtime", "__future__"})


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else \
            f"{self.path}: {self.message}"


def _stdlib() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names)


def check_source(text: str, path: str, helpers: Iterable[str] = ()) -> list[Problem]:
    """Grammar and import problems of one source text, each with its line."""
    try:
        tree = ast.parse(text, path, feature_version=(3, 6))
    except SyntaxError as error:
        try:
            ast.parse(text, path)
        except SyntaxError:
            return [Problem(path, error.lineno, f"syntax error: {error.msg}")]
        return [Problem(path, error.lineno, f"syntax newer than Python 3.6: {error.msg}")]
    problems = []
    allowed = KIT | set(helpers)
    stdlib = _stdlib()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(Problem(path, node.lineno, "relative import: a module is sent "
                                        "alone; share code through helpers (requires)"))
                continue
            names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
        for index, name in enumerate(names):
            problem = _import_problem(name, allowed, stdlib, strict=index == 0 or
                                      not isinstance(node, ast.ImportFrom))
            if problem:
                problems.append(Problem(path, node.lineno, problem))
                break
    return problems


def _import_problem(name: str, allowed: set, stdlib: frozenset, strict: bool) -> str | None:
    top = name.split(".")[0]
    if top in allowed:
        return None
    for length in range(name.count(".") + 1, 0, -1):
        prefix = ".".join(name.split(".")[:length])
        if prefix in NEWER_THAN_36:
            return f"imports {prefix!r}, which Python 3.6 does not have"
    if not strict:  # "from os import path": the names after "import" are not modules to check
        return None
    if top in REMOVED_SINCE:
        return f"imports {top!r}, which newer Pythons no longer have"
    if top not in stdlib:
        return (f"imports {top!r}, which is not in the standard library (hosts have nothing "
                f"else; share code through helpers: AGENT requires)")
    return None


def check_file(path: Path | str) -> list[Problem]:
    """Every problem of one module file, its helpers included."""
    from orch.agents.registry import read_agent

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return [Problem(str(path), None, f"cannot read: {error}")]
    helpers = authoring.requires_literal(text)
    problems = check_source(text, str(path), helpers)
    for helper in helpers:
        helper_file = authoring.helper_path(path, helper)
        try:
            problems += check_source(helper_file.read_text(encoding="utf-8"), str(helper_file),
                                     [name for name in helpers if name != helper])
        except (OSError, UnicodeDecodeError):
            pass  # read_agent below names the missing helper
    if not problems:  # a module that cannot even be imported would only add noise
        try:
            read_agent(path)
        except InputError as error:
            where = error.where
            field = f" ({where.path})" if where and where.path else ""
            problems.append(Problem(str(path), where.line if where else None,
                                    f"{error.message}{field}"))
    return problems


def check_paths(paths: Iterable[Path | str]) -> list[Problem]:
    """Problems of every module file named, a folder meaning its ``*.py`` files."""
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        files = sorted(p for p in path.glob("*.py") if not p.name.startswith("_")) \
            if path.is_dir() else [path]
        for file in files:
            problems += check_file(file)
    return problems
