"""The realistic fleet (tests/realfleet/conftest.py) for the trust suite: the same fixture,
loaded from that file, so ``pytest tests/trust`` builds its own fleet like tests/realfleet."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "realfleet_conftest", Path(__file__).resolve().parents[1] / "realfleet" / "conftest.py")
_REALFLEET = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = _REALFLEET
_SPEC.loader.exec_module(_REALFLEET)

fleet = _REALFLEET.fleet
Fleet = _REALFLEET.Fleet
