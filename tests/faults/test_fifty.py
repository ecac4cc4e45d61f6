"""The 50-app-server fault lab (issue 16): SIGINT in a rolling batch, then ``--resume``.

Its own lab of 50 app servers (alfa dev1-dev25, bravo dev26-dev50), whatever
``ORCH_FAULT_APPS`` says: the rest of the suite stays at 4 to keep ``make test`` in time, and
this one case, about 40 s on the shared 2-core machine, shows the same rules hold at 50. The
rolling play upgrades bravo's 25 servers 5 at a time; SIGINT arrives while batch 2 upgrades:
the run ends ``interrupted`` (exit 130) with the resume line, and ``--resume`` finishes it:
every server UP and enabled in HAProxy, every bravo app on the one revision.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.faults.conftest import private_lab
from tests.faults.faultlib import Background, cluster, journal_run, served_revision, server_states

pytestmark = [pytest.mark.lab, pytest.mark.faults]
ROLLING = Path(__file__).resolve().parents[2] / "plays" / "app_cluster_rolling.yml"
APPS = 50


@pytest.fixture(scope="module")
def lab50():
    yield from private_lab(APPS)


def test_sigint_in_a_rolling_batch_at_50_app_servers_then_resume_finishes(lab50):
    lab = lab50
    bravo = cluster(lab, "bravo")
    assert len(bravo) == APPS // 2
    started = time.monotonic()
    run = Background(lab, ["play", ROLLING, "-e", "cluster=bravo", "-e", "backend=app",
                           "-e", "revision=650", "-e", "try_sleep=0.3", "-e", "batch_size=5",
                           "--json"], env={"ORCH_INTERRUPT_GRACE": "10s"})
    step = "steps[2].batch[2].steps[1]"
    assert run.until(lambda e: e["type"] == "StepStarted" and e["step"] == step, timeout=90)
    run.proc.send_signal(signal.SIGINT)
    code, err = run.finish(timeout=120)
    assert code == 130, err
    assert f"--resume {run.run_id}" in err
    done = run.events[-1]
    assert done["type"] == "RunDone" and done["status"] == "interrupted", done
    record = journal_run(lab, run.run_id)
    assert record["run"]["status"] == "interrupted"
    assert all(host["status"] for entry in record["steps"] for host in entry["hosts"])
    assert time.monotonic() - started < 90

    resumed = lab.orch("play", ROLLING, "--resume", run.run_id, "--json", timeout=180)
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.strip()]
    assert resumed.code == 0, str(resumed)
    assert events[-1]["type"] == "RunDone" and events[-1]["status"] == "ok"
    # batch 1 finished before the signal: skipped whole on resume
    assert not [e for e in events if e["type"] == "StepStarted" and ".batch[1]." in e["step"]]
    states = server_states(lab)
    assert len(states) == APPS and set(states.values()) == {0}, states  # none left in MAINT
    assert set(server_states(lab, "srv_op_state").values()) == {2}  # all UP by their checks
    assert {served_revision(lab, name) for name in bravo} == {"650"}
