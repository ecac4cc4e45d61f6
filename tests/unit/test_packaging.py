"""What ``pip install .`` ships: setup.py's ``find_packages`` takes only folders with an
``__init__.py``, so a folder of orch code without one works from a checkout and is missing
from an installed orch; the shipped modules are mapped in as ``orch.shipped_modules``
(tests/integration/test_wheel_install.py builds and runs a wheel)."""

from __future__ import annotations

from pathlib import Path

ORCH = Path(__file__).resolve().parents[2] / "orch"


def test_every_folder_of_python_code_is_a_package():
    folders = {path.parent for path in ORCH.rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(str(folder.relative_to(ORCH.parent)) for folder in folders
                     if not (folder / "__init__.py").exists())
    assert missing == []


def test_setup_maps_the_shipped_modules_into_the_package():
    import ast

    setup = ast.parse((ORCH.parent / "setup.py").read_text())
    [call] = [node for node in ast.walk(setup) if isinstance(node, ast.Call)
              and getattr(node.func, "id", "") == "setup"]
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    assert ast.literal_eval(keywords["package_dir"]) == {"orch.shipped_modules": "modules"}
    assert "orch.shipped_modules" in ast.literal_eval(keywords["package_data"])
    assert not (ORCH / "shipped_modules").exists()  # mapped at build time, never copied here
