"""The fault suite's lab: one private lab per test module (``ORCH_FAULT_APPS`` app servers,
default 4: the first half cluster alfa, the rest bravo; with 4, bravo = dev3, dev4), broken on
purpose by its tests and stopped afterwards (never the session's lab)."""

from __future__ import annotations

import pytest

from tests.conftest import lab_prerequisites_missing, make_lab_dirs, start_lab, stop_lab
from tests.faults.faultlib import fault_apps


def private_lab(n: int):
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    lab_dir, workdir = make_lab_dirs("orch-lab-faults-")
    try:
        yield start_lab(lab_dir, workdir, n=n)
    finally:
        stop_lab(lab_dir, workdir)


@pytest.fixture(scope="module")
def fault_lab():
    yield from private_lab(fault_apps())
