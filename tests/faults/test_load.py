"""The load proof of issue 16: the rolling play under continuous HTTP load through HAProxy,
with one app server SIGKILLed mid-run, loses 0 requests.

A real load generator (tests/faults/loadgen.py: threads, http.client, keep-alive and new
connections mixed, ~250 requests/s) sends ``GET /`` through the lab's HAProxy frontend for the
whole of ``orch play plays/app_cluster_rolling.yml`` on cluster bravo in two batches (dev3,
then dev4 with the default 4 app servers) while alfa (dev1, dev2) keeps serving. Mid-run the
app server of one host is SIGKILLed: dev1, outside the play; the last of bravo, in the later
batch (killed while the first batch is out); the first of bravo, in the batch (killed after its
upgrade, while its batch is checked). Every request is
counted; any connection error, timeout or non-200 answer is a loss. What makes 0 losses
possible is in the lab's HAProxy config (orch/lab/services.py; tests/faults/README.md).
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.faults.faultlib import Background, cluster, served_revision, server_states, two_batches
from tests.faults.loadgen import Load

pytestmark = [pytest.mark.lab, pytest.mark.faults]
REPO = Path(__file__).resolve().parents[2]
ROLLING = REPO / "plays" / "app_cluster_rolling.yml"
REVISIONS = itertools.count(500)
MIN_SENT = 2000
MIN_DURING = 500  # during the play itself
DOWN, UP = 0, 2  # HAProxy's srv_op_state


def app_pid(lab, name: str) -> int:
    return int((lab.state_dir(name) / "app" / "app.pid").read_text().split()[0])


class Watch:
    """HAProxy's view of each server, sampled every 0.2 s: who its health check reported
    DOWN while enabled."""

    def __init__(self, lab):
        self.lab, self.seen_down = lab, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.2):
            try:
                states = server_states(self.lab, "srv_op_state")
                admin = server_states(self.lab)
            except OSError:
                continue
            # DOWN by its check while enabled (a server in MAINT shows DOWN too)
            self.seen_down |= {name for name, state in states.items()
                               if state == DOWN and admin.get(name) == 0}

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def rolling_under_load(lab, victim: str, kill_at: str):
    """The play under load, ``victim``'s app SIGKILLed at the StepStarted of ``kill_at``."""
    revision = next(REVISIONS)
    address, port = lab.hosts["lb1"], int(lab.settings["frontend_port"])
    with Watch(lab) as watch, Load(address, port, workers=6, rate=250) as load:
        time.sleep(1.0)  # load flows before the play starts
        play_started = time.monotonic()
        sent_before = load.counts.sent
        run = Background(lab, ["play", ROLLING, "-e", "cluster=bravo", "-e", "backend=app",
                               "-e", f"revision={revision}", "-e", "try_sleep=0.3",
                               "-e", f"batch_size={two_batches(lab)}", "--json"])
        seen = run.until(lambda e: e["type"] == "StepStarted" and e["step"] == kill_at,
                         timeout=180)  # a machine shared by five: the play may crawl
        assert seen is not None, run.events[-3:]
        killed = app_pid(lab, victim)
        os.kill(killed, signal.SIGKILL)
        code, err = run.finish(timeout=300)
        during = load.counts.sent - sent_before
        elapsed = time.monotonic() - play_started
        # and after it ends, with the killed server still dead in two cases, until at least
        # MIN_SENT requests were counted in all (the play alone takes 3 s to a minute here)
        deadline = time.monotonic() + 60
        time.sleep(1.0)
        while load.counts.sent < MIN_SENT and time.monotonic() < deadline:
            time.sleep(0.2)
    counts = load.counts
    print(f"\n{victim} killed at {kill_at}: play {elapsed:.1f} s, exit {code}; sent "
          f"{counts.sent} ({during} during the play, {during / elapsed:.0f}/s), 200: {counts.ok}, "
          f"failed: {counts.failed}, new connections: {counts.new_connections}, answered by "
          f"{dict(counts.by_server)}, seen DOWN: {sorted(watch.seen_down)}")
    assert counts.failed == 0, counts.failures[:10]
    assert counts.ok == counts.sent
    assert counts.sent >= MIN_SENT and during >= MIN_DURING, (counts.sent, during)
    return run, code, err, revision, watch


def wait_all_up(lab, timeout: float = 15) -> None:
    """Every server UP by its health check again (2 good checks after a restart)."""
    deadline = time.monotonic() + timeout
    while set(server_states(lab, "srv_op_state").values()) != {UP}:
        assert time.monotonic() < deadline, server_states(lab, "srv_op_state")
        time.sleep(0.2)


def replies(run, step_suffix: str) -> dict[str, dict]:
    return {e["host"]: e for e in run.events
            if e["type"] == "HostReplied" and e["final"] and e["step"].endswith(step_suffix)}


def test_a_server_outside_the_play_killed_loses_no_request_and_is_reported_down(fault_lab):
    lab = fault_lab
    before = served_revision(lab, "dev1")
    run, code, err, revision, watch = rolling_under_load(
        lab, "dev1", "steps[2].batch[1].steps[1]")  # dev3's upgrade; dev1 is in cluster alfa
    # What the operator sees: HAProxy's check reports dev1 DOWN (no traffic goes to it); the
    # play, which does not touch alfa, upgrades bravo and succeeds.
    assert "dev1" in watch.seen_down
    assert server_states(lab, "srv_op_state")["dev1"] == DOWN
    assert code == 0, err
    assert run.events[-1]["type"] == "RunDone" and run.events[-1]["status"] == "ok"
    assert {served_revision(lab, name) for name in cluster(lab, "bravo")} == {str(revision)}
    lab.orch("call", "appmgr.upgrade", f"revision={before}", "-I", "dev1", check=True)
    wait_all_up(lab)


def test_a_server_of_a_later_batch_killed_loses_no_request_and_its_batch_restarts_it(
        fault_lab):
    lab = fault_lab
    victim = cluster(lab, "bravo")[-1]  # dev4: in batch 2
    run, code, err, revision, watch = rolling_under_load(lab, victim, "steps[2].batch[1].steps[0]")
    # What the operator sees: dev4's own batch found its app not answering (its previous
    # revision unknown), started it on the revision and put it back; the run succeeds.
    assert code == 0, err
    upgrade = replies(run, "batch[2].steps[1]")[victim]
    assert upgrade["status"] == "OK" and upgrade["data"]["previous"] is None, upgrade
    assert upgrade["data"]["revision"] == revision
    assert run.events[-1]["type"] == "RunDone" and run.events[-1]["status"] == "ok"
    assert set(server_states(lab).values()) == {0}  # none left in MAINT
    wait_all_up(lab)
    assert {served_revision(lab, name) for name in cluster(lab, "bravo")} == {str(revision)}


def test_a_server_killed_in_the_batch_loses_no_request_and_the_run_names_it(fault_lab):
    lab = fault_lab
    victim, *others = cluster(lab, "bravo")  # dev3: in batch 1
    run, code, err, revision, watch = rolling_under_load(lab, victim, "steps[2].batch[1].steps[2]")
    # What the operator sees: HAProxy reports dev3 DOWN (it takes no traffic though it is
    # enabled), the status step after the batches fails on dev3 alone, the run fails naming it.
    assert victim in watch.seen_down
    assert server_states(lab, "srv_op_state")[victim] == DOWN
    assert code == 1, err
    done = run.events[-1]
    assert done["type"] == "RunDone" and done["status"] == "failed"
    assert list(done["failed"]) == [victim] and "appmgr#status" in done["failed"][victim], done
    assert "stopped at steps[3]" in done["message"]
    later = replies(run, "batch[2].steps[1]")
    assert all(later[name]["status"] == "OK" for name in others if name in later)
    assert {served_revision(lab, name) for name in others} == {str(revision)}
    # Finish as the operator would: start dev3's app again with the revision, all UP.
    lab.orch("call", "appmgr.upgrade", f"revision={revision}", "-I", victim, check=True)
    wait_all_up(lab)
    assert set(server_states(lab).values()) == {0}
