"""What ``pip install .`` ships: setup.cfg's ``packages = find:`` takes only folders with an
``__init__.py``, so a folder of orch code without one works from a checkout and is missing
from an installed orch."""

from __future__ import annotations

from pathlib import Path

ORCH = Path(__file__).resolve().parents[2] / "orch"


def test_every_folder_of_python_code_is_a_package():
    folders = {path.parent for path in ORCH.rglob("*.py") if "__pycache__" not in path.parts}
    missing = sorted(str(folder.relative_to(ORCH.parent)) for folder in folders
                     if not (folder / "__init__.py").exists())
    assert missing == []
