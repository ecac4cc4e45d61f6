"""Helpers of the fault suite: orch in the background with its JSON events read as they come,
HAProxy's server states, the apps' revisions, the journal's view of a run."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import (
    REPO,
    orch_command,
)

TEST_MODULES = {"ORCH_MODULE_PATHS": f"{REPO / 'modules'},{REPO / 'tests/data/modules'}"}


def orch_env(extra: dict | None = None) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    environ.update(PYTHONUNBUFFERED="1", **(extra or {}))
    return environ


class Background:
    """``orch …`` running with ``--json``: its events read line by line as they come."""

    def __init__(self, lab, argv, env=None):
        self.proc = subprocess.Popen(orch_command() + [str(a) for a in argv], cwd=lab.workdir,
                                     env=orch_env(env), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.events: list[dict] = []

    def until(self, predicate, timeout: float = 60) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                return None
            event = json.loads(line)
            self.events.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"no matching event in {timeout} s: {self.events[-3:]}")

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        out, err = self.proc.communicate(timeout=timeout)
        self.events += [json.loads(line) for line in out.splitlines() if line.strip()]
        return self.proc.returncode, err

    @property
    def run_id(self) -> str:
        return next(e["run_id"] for e in self.events if e["type"] == "RunStarted")


def fault_apps() -> int:
    """The fault labs' number of app servers: ``ORCH_FAULT_APPS`` (default 4, at least 4 so
    each cluster has two)."""
    text = os.environ.get("ORCH_FAULT_APPS", "4").strip()
    if not text.isdigit() or not 4 <= int(text) <= 200:
        raise ValueError(f"ORCH_FAULT_APPS: a whole number from 4 to 200, got {text!r}")
    return int(text)


def devs(lab) -> list[str]:
    """The lab's app servers, dev1 .. devN in order."""
    return sorted((name for name in lab.hosts if name.startswith("dev")),
                  key=lambda name: int(name[3:]))


def cluster(lab, name: str) -> list[str]:
    """The app servers of cluster alfa (the first half, as orch lab up makes it) or bravo."""
    servers = devs(lab)
    half = (len(servers) + 1) // 2
    return servers[:half] if name == "alfa" else servers[half:]


def two_batches(lab) -> int:
    """A rolling batch size that cuts cluster bravo in two batches (1 with 4 app servers)."""
    return (len(cluster(lab, "bravo")) + 1) // 2


def server_states(lab, column: str = "srv_admin_state") -> dict[str, int]:
    """A column of HAProxy's ``show servers state app`` per server: ``srv_admin_state`` (0:
    ready, else a maintenance bit) or ``srv_op_state`` (0: DOWN by its health check, 2: UP)."""
    text = lab.haproxy("show servers state app")
    header = next(line for line in text.splitlines() if line.startswith("#"))
    columns = header.lstrip("# ").split()
    states = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == len(columns) and not line.startswith("#"):
            row = dict(zip(columns, fields, strict=True))
            states[row["srv_name"]] = int(row[column])
    return states


def served_revision(lab, name: str) -> str:
    return lab.http_get(lab.app_url(name))[2].strip()


def journal_run(lab, run_id: str) -> dict:
    result = lab.orch("runs", run_id, "--json", check=0)
    return json.loads(result.stdout)


__all__ = ["Background", "Path", "TEST_MODULES", "cluster", "devs", "fault_apps", "journal_run",
           "orch_env", "served_revision", "server_states", "two_batches"]


@contextlib.contextmanager
def silent_listener(address: str) -> Iterator[int]:
    """A listener on ``address`` (inside 127.0.0.0/8) that accepts and never speaks SSH: a
    host whose handshake hangs. Yields its port."""
    server = socket.socket()
    server.bind((address, 0))
    server.listen(16)
    held, stop = [], threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
