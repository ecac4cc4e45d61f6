"""Fixtures for the play engine's narrow unit tests (the e2e tests use the lab)."""

import pytest
from play_fakes import ModulesRegistry


@pytest.fixture
def registry():
    return ModulesRegistry()
