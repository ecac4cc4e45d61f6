"""What a module file may import besides the standard library, on the controller too.

On a host a module runs next to the runtime, registered as ``orch_runtime``, and after the
helpers it ``requires`` (Ansible's module_utils), registered under their own names. The
controller execs module files to read their declarations, and ``orch.testing`` runs them
in-process, so both need the same names importable: ``orch_runtime`` is the controller's
``orch.runtime.core`` (the very file hosts run), and each helper is exec'd from its file while
the module is read, then removed again so helpers of two collections never meet.

Helpers live in a ``module_utils/`` folder beside the module file (``modules/module_utils/
orchutil_text.py`` for ``"requires": ["orchutil_text"]``).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import sys
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from orch.runtime import core

HELPERS_FOLDER = "module_utils"
HELPER_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Helper:
    """One helper file a module requires, sent to hosts before it (once per host by hash)."""

    name: str
    path: str
    source: bytes = field(repr=False)
    hash: str

    @property
    def wire_name(self) -> str:
        return core.HELPER_PREFIX + self.name


def install_runtime_alias() -> None:
    """Make ``import orch_runtime`` give the controller's copy of the host runtime."""
    sys.modules.setdefault("orch_runtime", core)


def helper_path(module_path: Path | str, name: str) -> Path:
    return Path(module_path).resolve().parent / HELPERS_FOLDER / f"{name}.py"


def read_helper(module_path: Path | str, name: str) -> Helper:
    """The helper ``name`` beside ``module_path``; OSError when it cannot be read."""
    path = helper_path(module_path, name)
    source = path.read_bytes()
    return Helper(name, str(path), source, hashlib.sha256(source).hexdigest())


@contextlib.contextmanager
def author_imports(helpers: Iterable[Helper]) -> Iterator[None]:
    """While a module file is exec'd: ``orch_runtime`` and its helpers importable; afterwards
    the helpers are gone from ``sys.modules`` again (what was there before is put back)."""
    install_runtime_alias()
    saved: dict[str, types.ModuleType | None] = {}
    try:
        for helper in helpers:
            saved[helper.name] = sys.modules.get(helper.name)
            core.load_helper(helper.name, helper.source.decode("utf-8"))
            sys.modules[helper.name].__file__ = helper.path
        yield
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def requires_literal(text: str) -> list[str]:
    """``AGENT["requires"]`` read from the source without running it (helpers must be in
    place before the module's own imports run); [] when there is none."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "AGENT"
                for target in statement.targets) and isinstance(statement.value, ast.Dict):
            for key, value in zip(statement.value.keys, statement.value.values, strict=False):
                if isinstance(key, ast.Constant) and key.value == "requires":
                    try:
                        names = ast.literal_eval(value)
                    except ValueError:
                        return []
                    return [str(name) for name in names] if isinstance(names, list) else []
    return []
