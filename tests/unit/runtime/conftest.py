"""Fixtures: a temporary host state folder and a factory of real runtime processes."""

import json
from pathlib import Path

import pytest
from runtime_harness import RuntimeProcess


@pytest.fixture
def state_dir(tmp_path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (state / "host.json").write_text(json.dumps({
        "name": "dev1", "facts": {"cluster": "alfa", "os": {"family": "debian"}, "revision": 19},
        "classes": ["web"], "agents": ["rpcutil", "appmgr"], "config": {"demo": {"greeting": "hi"}},
    }))
    return state


@pytest.fixture
def runtime(state_dir):
    started = []

    def start(environ: dict | None = None) -> RuntimeProcess:
        process = RuntimeProcess(state_dir, environ)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
        process.close()
