"""A lab with broken hosts (issue 16): refused, blackholed (accepts, never speaks SSH), a
request hung past its timeout, a runtime killed mid-step, and two controllers at once.

Asserts the wall time is bounded by the timeouts and tries, every host ends with one final
state that the console, ``--json`` and the journal agree on, and that two plays on one cluster
never both change it.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.faults.faultlib import (
    TEST_MODULES,
    Background,
    cluster,
    devs,
    journal_run,
    served_revision,
    server_states,
    silent_listener,
)

pytestmark = [pytest.mark.lab, pytest.mark.faults]
REPO = Path(__file__).resolve().parents[2]
ROLLING = REPO / "plays" / "app_cluster_rolling.yml"


@pytest.fixture
def blackhole():
    """A listener that accepts and never answers (a hung handshake)."""
    with silent_listener("127.0.9.10") as port:
        yield port


def broken_inventory(lab, blackhole_port: int) -> Path:
    path = lab.workdir / "broken.yml"
    path.write_text(lab.inventory.read_text() + (
        "    ghosts:\n      hosts:\n"
        f"        refused1: {{ansible_host: 127.0.9.9, ansible_port: {free_port()}}}\n"
        f"        hole1: {{ansible_host: 127.0.9.10, ansible_port: {blackhole_port}}}\n"))
    return path


def runtime_pids(address: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"appserver" in cmdline or b"sshd" in cmdline:
            continue
        if any(item.startswith(b"SSH_CONNECTION=") and item.split()[2] == address.encode()
               for item in environ if item.count(b" ") >= 3):
            pids.append(int(entry.name))
    return pids


def final_states(events: list[dict]) -> dict[str, str]:
    states = {}
    for event in events:
        if event["type"] in ("HostReplied", "HostUnreachable") and event.get("final", True):
            states[event["host"]] = event.get("status", "Unreachable")
    return states


def test_refused_blackholed_hung_and_killed_hosts_end_bounded_and_agree(fault_lab, blackhole):
    lab = fault_lab
    inventory = broken_inventory(lab, blackhole)
    env = {**TEST_MODULES, "ORCH_CONNECT_TIMEOUT": "2s"}
    argv = ["call", "labtest.sleep", "seconds=2", "--timeout", "1", "--tries", "2",
            "--try-sleep", "0", "-i", inventory, "-I", "/^(dev|refused|hole)/"]
    started = time.monotonic()
    run = Background(lab, [*argv, "--json"], env=env)
    code, err = run.finish(timeout=60)
    elapsed = time.monotonic() - started
    # 2 tries x (2 s connect or 1 s request) plus start-up (which grows with the hosts: 50
    # runtimes start on 2 cores): far below a hang
    assert elapsed < 20 + len(devs(lab)) / 5, elapsed
    assert code == 1, err
    states = final_states(run.events)
    assert states["refused1"] == "Unreachable" and states["hole1"] == "Unreachable"
    assert all(states[name] == "UnknownError" for name in devs(lab))  # timed out, twice
    record = journal_run(lab, run.run_id)
    journal = {host["host"]: host["status"] for step in record["steps"] for host in step["hosts"]}
    assert journal == states
    done = run.events[-1]
    assert done["type"] == "RunDone" and set(done["unreachable"]) == {"refused1", "hole1"}
    assert set(done["failed"]) == set(devs(lab))

    # The same on the console: the recap names the same hosts in the same states.
    console = lab.orch(*argv, env=env, timeout=60)
    assert "Unreachable hosts (2):" in console.stdout
    assert f"Failed hosts ({len(devs(lab))}):" in console.stdout
    for name in ("refused1", "hole1"):
        assert f"   {name}: " in console.stdout.split("Unreachable hosts (2):")[1]


def test_a_runtime_killed_mid_step_fails_that_host_only(fault_lab):
    lab = fault_lab
    run = Background(lab, ["call", "labtest.sleep", "seconds=4", "-I", "/^dev/", "--json"],
                     env=TEST_MODULES)
    address = lab.hosts["dev2"]
    deadline = time.monotonic() + 15
    while not runtime_pids(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    for pid in runtime_pids(address):
        os.kill(pid, signal.SIGKILL)
    code, err = run.finish(timeout=60)
    states = final_states(run.events)
    assert code == 1
    assert states["dev2"] != "OK" and all(states[h] == "OK" for h in devs(lab) if h != "dev2")
    journal = {host["host"]: host["status"]
               for step in journal_run(lab, run.run_id)["steps"] for host in step["hosts"]}
    assert journal == states


def test_two_controllers_on_one_cluster_never_both_change_it(fault_lab):
    lab = fault_lab
    argv = ["play", ROLLING, "-e", "cluster=bravo", "-e", "backend=app", "-e", "revision=77",
            "-e", "try_sleep=0.3", "-e", "batch_size=1", "--json"]  # one at a time: the first is in its batches for long
    first = Background(lab, argv)
    first.until(lambda e: e["type"] == "StepStarted" and "batch" in e["step"])
    second = lab.orch(*argv[:-1], "-e", "revision=77", timeout=60)
    code, err = first.finish()
    assert code == 0, err
    assert second.code == 1 and "being changed by another run" in second.stdout + second.stderr
    assert set(server_states(lab).values()) == {0}
    assert {served_revision(lab, name) for name in cluster(lab, "bravo")} == {"77"}
    assert json.loads(lab.orch("runs", "--json", check=0).stdout)[0]["status"] == "failed"
