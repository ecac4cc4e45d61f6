"""The fault suite's lab: one private lab per test module (4 app servers: alfa dev1-2, bravo
dev3-4), broken on purpose by its tests and stopped afterwards (never the session's lab)."""

from __future__ import annotations

import pytest

from tests.conftest import lab_prerequisites_missing, make_lab_dirs, start_lab, stop_lab


@pytest.fixture(scope="module")
def fault_lab():
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    lab_dir, workdir = make_lab_dirs("orch-lab-faults-")
    try:
        yield start_lab(lab_dir, workdir, n=4)
    finally:
        stop_lab(lab_dir, workdir)
