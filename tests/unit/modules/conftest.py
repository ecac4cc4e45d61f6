"""Fixtures for the fleet-module tests; the helpers they share live in module_support.py
(a unique name: several test folders have a conftest, and ``import conftest`` is ambiguous)."""

from module_support import app, call, lb  # noqa: F401  (fixtures, registered by name)
