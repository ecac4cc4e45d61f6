"""The package module tests' tiny-package builder and local apt source, for the fleet's tests.

tests/unit/modules/test_module_package.py builds two versions of a tiny Debian package with
dpkg-deb and publishes them in a local file apt source (no network); the fleet's package run
uses the very same code, loaded from that file rather than copied.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_FOLDER = Path(__file__).resolve().parents[1] / "unit" / "modules"
if str(_FOLDER) not in sys.path:
    sys.path.insert(0, str(_FOLDER))  # its own helper (collection_support) imports from there
_SPEC = importlib.util.spec_from_file_location("fleet_package_builder",
                                               _FOLDER / "test_module_package.py")
_MODULE = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(_MODULE)

TINY: str = _MODULE.TINY
Repo = _MODULE.Repo
build_tiny = _MODULE.build_tiny
