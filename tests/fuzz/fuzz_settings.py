"""Shared hypothesis settings for the fuzz suite: bounded so the whole suite stays well under
a minute on two busy cores, with no per-example deadline (a loaded machine is not a bug).

``ORCH_FUZZ_SCALE=20`` multiplies the examples for a longer hunt by hand.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("ORCH_FUZZ_SCALE", "1") or 1))
FAST = settings(max_examples=300 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
