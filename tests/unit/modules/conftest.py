"""Helpers for the fleet modules' unit tests: load a module file as the runtime does, and a
small stand-in for the runtime's request object (the only stand-in; everything the modules
talk to in these tests is real: HAProxy, check_load, an HTTP app server, a webhook receiver).
"""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace

import pytest

MODULES = Path(__file__).resolve().parents[3] / "modules"


class Aborted(Exception):
    """Raised by the stand-in's ``abort``: the reply would have status Aborted."""


class StandInRequest:
    """What a module function receives: args, host (name, state_dir, facts, config), abort."""

    def __init__(self, args: dict, config: dict, state_dir: str = "/nonexistent",
                 name: str = "dev1"):
        self.args = dict(args)
        self.host = SimpleNamespace(
            name=name, state_dir=state_dir, facts={}, classes=[],
            config=lambda module: config.get(module, {}))

    def abort(self, message: str):
        raise Aborted(message)


def load_module(name: str) -> dict:
    """Exec ``modules/<name>.py`` in a fresh namespace, as the host runtime loads it."""
    path = MODULES / f"{name}.py"
    namespace: dict = {"__name__": f"orch_module_{name}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@pytest.fixture
def call():
    """``call("haproxy", "disable", args, config)`` → data dict, or raises Aborted."""

    def _call(module: str, action: str, args: dict, config: dict, **host):
        namespace = load_module(module)
        declared = namespace["AGENT"]["actions"][action]["inputs"]
        filled = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
        filled.update(args)
        return namespace[action](StandInRequest(filled, config, **host))

    return _call
