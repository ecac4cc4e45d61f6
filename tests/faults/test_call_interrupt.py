"""SIGINT and SIGTERM during ``orch call`` and ``orch facts --gather`` (issue 16): the one run
lifecycle of ``orch play``. Nothing new starts, requests in flight get the grace, hosts not
started are reported NotRun (never dropped), the journal run is ``interrupted``, ``--json``
ends with RunDone, stderr says what was left undone, exit 130/143; a second signal skips the
grace.

``labtest.sleep`` with ``--batch 1`` on the app servers: when the signal comes, dev1's batch
is in flight and dev2 .. devN have not started.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.faults.faultlib import TEST_MODULES, Background, devs, journal_run, silent_listener

pytestmark = [pytest.mark.lab, pytest.mark.faults]


def sleep_call(lab, seconds: float, grace: str, signum: int, *, second: bool = False):
    """Start the call, signal it once its first batch is in flight; (run, code, err, elapsed)."""
    run = Background(lab, ["call", "labtest.sleep", f"seconds={seconds}", "--batch", "1",
                           "-I", "/^dev/", "--json"],
                     env={**TEST_MODULES, "ORCH_INTERRUPT_GRACE": grace})
    run.until(lambda e: e["type"] == "HostStarted" and e["host"] == "dev1", timeout=30)
    time.sleep(0.3)  # the request is on the wire
    signalled = time.monotonic()
    run.proc.send_signal(signum)
    if second:
        time.sleep(0.5)
        run.proc.send_signal(signum)
    code, err = run.finish(timeout=60)
    return run, code, err, time.monotonic() - signalled


def final_states(events: list[dict]) -> dict[str, str]:
    states = {}
    for event in events:
        if event["type"] in ("HostReplied", "HostUnreachable") and event.get("final", True):
            states[event["host"]] = event.get("status", "Unreachable")
        elif event["type"] == "HostSkipped":
            states[event["host"]] = event["status"]
    return states


def journal_states(lab, run_id: str) -> tuple[str, dict[str, str]]:
    record = journal_run(lab, run_id)
    hosts = {host["host"]: host["status"] for step in record["steps"] for host in step["hosts"]}
    return record["run"]["status"], hosts


def assert_interrupted(lab, run, code, err, signum, not_run):
    assert code == 128 + signum, err
    done = run.events[-1]
    assert done["type"] == "RunDone" and done["status"] == "interrupted", done
    assert f"interrupted by {signal.Signals(signum).name}" in done["message"]
    states = final_states(run.events)
    assert set(states) == set(devs(lab)), states  # every host has a state, none dropped
    assert sorted(h for h, s in states.items() if s == "NotRun") == sorted(not_run)
    listed = ", ".join(not_run[:20])
    assert f"not run on {len(not_run)} host(s): {listed}" in err, err
    assert " ".join(f"-I {name}" for name in not_run[:20]) in err
    status, journal = journal_states(lab, run.run_id)
    assert status == "interrupted"
    assert journal == states  # the journal agrees with --json, host by host
    shown = lab.orch("runs", run.run_id, check=0).stdout
    assert "interrupted" in shown and all(name in shown for name in not_run), shown


def test_sigint_lets_the_batch_in_flight_finish_and_reports_the_rest_not_run(fault_lab):
    run, code, err, elapsed = sleep_call(fault_lab, 2, "5s", signal.SIGINT)
    assert_interrupted(fault_lab, run, code, err, signal.SIGINT, devs(fault_lab)[1:])
    assert final_states(run.events)["dev1"] == "OK"  # it finished within the grace
    assert "nothing new starts; requests in flight get up to 5 s" in err
    assert elapsed < 10


def test_sigterm_cuts_off_a_request_at_the_end_of_the_grace(fault_lab):
    run, code, err, elapsed = sleep_call(fault_lab, 30, "1s", signal.SIGTERM)
    assert_interrupted(fault_lab, run, code, err, signal.SIGTERM, devs(fault_lab))
    assert "cut off by the 1 s grace on dev1" in run.events[-1]["message"]
    assert elapsed < 10  # the grace, not the 30 s request


def test_a_second_signal_skips_the_grace(fault_lab):
    run, code, err, elapsed = sleep_call(fault_lab, 30, "60s", signal.SIGINT, second=True)
    assert_interrupted(fault_lab, run, code, err, signal.SIGINT, devs(fault_lab))
    assert "SIGINT again: cancelling the requests in flight" in err
    assert "cut off by a second signal on dev1" in run.events[-1]["message"]
    assert elapsed < 10  # not the 60 s grace


@pytest.fixture
def blackhole():
    """A host still in flight when the others have answered."""
    with silent_listener("127.0.9.11") as port:
        yield port


def test_sigterm_during_facts_gather_keeps_what_was_gathered(fault_lab, blackhole):
    lab = fault_lab
    inventory = lab.workdir / "gather-hole.yml"
    inventory.write_text(lab.inventory.read_text() + (
        "    ghosts:\n      hosts:\n"
        f"        hole2: {{ansible_host: 127.0.9.11, ansible_port: {blackhole}}}\n"))
    run = Background(lab, ["facts", "--gather", "-i", inventory, "-I", "/^(dev|hole)/",
                           "--json"],
                     env={"ORCH_CONNECT_TIMEOUT": "30s", "ORCH_INTERRUPT_GRACE": "1s"})
    replied: set[str] = set()

    def all_devs(event) -> bool:
        if event["type"] == "HostReplied" and event["final"]:
            replied.add(event["host"])
        return replied >= set(devs(lab))

    run.until(all_devs, timeout=30)
    run.proc.send_signal(signal.SIGTERM)
    code, err = run.finish(timeout=60)
    assert code == 143, err
    done = run.events[-1]
    assert done["type"] == "RunDone" and done["status"] == "interrupted", done
    states = final_states(run.events)
    assert states == {**dict.fromkeys(devs(lab), "OK"), "hole2": "NotRun"}, states
    assert "not run on 1 host(s): hole2" in err and "orch facts --gather again" in err
    status, journal = journal_states(lab, run.run_id)
    assert status == "interrupted" and journal == states
    # the facts of the hosts that answered were stored (fresh in the cache); hole2 has none
    fresh = lab.orch("facts", "cluster", "--max-age", "2m", "-I", "/^dev/", "--json", check=0)
    assert json.loads(fresh.stdout)
    stale = lab.orch("facts", "cluster", "--max-age", "2m", "-i", inventory, "-I", "hole2")
    assert stale.code == 1 and "hole2" in stale.stdout + stale.stderr, str(stale)
