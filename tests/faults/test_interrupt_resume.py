"""SIGINT, SIGTERM and SIGKILL in every step of both seed plays, then ``--resume`` (issue 16).

Each case starts the play on cluster bravo (dev3, dev4 with the default 4 app servers;
``ORCH_FAULT_APPS``: the second half) of a private lab, waits for the JSON
event that says the step has started, sends the signal, checks what the interrupted run left
(exit 130/143 with the resume line and journal status ``interrupted``, or ``abandoned`` after
SIGKILL), then resumes it: every server must be UP in HAProxy and both apps on the revision.
The signals rotate over the steps so each play sees each signal; 15 cases, two runs each.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from pathlib import Path

import pytest

from tests.faults.faultlib import (
    Background,
    cluster,
    journal_run,
    served_revision,
    server_states,
    two_batches,
)

pytestmark = [pytest.mark.lab, pytest.mark.faults]

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "plays" / "app_cluster_upgrade.yml"
ROLLING = REPO / "plays" / "app_cluster_rolling.yml"
SIGNALS = itertools.cycle((signal.SIGINT, signal.SIGTERM, signal.SIGKILL))
SEED_STEPS = ("nodes.apps.ping", "steps[1]", "steps[2]", "steps[3]", "steps[4]", "steps[5]",
              "steps[6]")
ROLLING_STEPS = ("steps[2].batch[1].steps[0]", "steps[2].batch[1].steps[1]",
                 "steps[2].batch[1].steps[2]", "steps[2].batch[1].steps[3]",
                 "steps[2].batch[2].steps[0]", "steps[2].batch[2].steps[1]",
                 "steps[3]", "steps[4]")
CASES = [pytest.param(SEED, step, next(SIGNALS), id=f"upgrade-{step}") for step in SEED_STEPS]
CASES += [pytest.param(ROLLING, step, next(SIGNALS), id=f"rolling-{step}") for step in ROLLING_STEPS]
REVISIONS = itertools.count(300)


def inputs(lab, play: Path, revision: int) -> list[str]:
    extra = ["-e", f"batch_size={two_batches(lab)}"] if play == ROLLING else []
    return ["-e", "cluster=bravo", "-e", "backend=app", "-e", f"revision={revision}",
            "-e", "try_sleep=0.3", *extra]


@pytest.mark.parametrize("play, step, signum", CASES)
def test_interrupt_then_resume_finishes_the_cluster(fault_lab, play, step, signum):
    lab = fault_lab
    revision = next(REVISIONS)
    started = time.monotonic()
    run = Background(lab, ["play", play, *inputs(lab, play, revision), "--json"],
                     env={"ORCH_INTERRUPT_GRACE": "5s"})
    seen = run.until(lambda e: e["type"] == "StepStarted" and e["step"] == step)
    assert seen is not None, f"the play never reached {step}: {run.events[-3:]}"
    run.proc.send_signal(signum)
    code, err = run.finish()
    run_id = run.run_id
    record = journal_run(lab, run_id)
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert record["run"]["status"] == "abandoned"
        shown = lab.orch("runs", run_id, check=0).stdout
        assert "abandoned: its controller" in shown
    else:
        assert code == 128 + signum, err
        assert f"--resume {run_id}" in err
        assert run.events[-1]["type"] == "RunDone" and run.events[-1]["status"] == "interrupted"
        assert record["run"]["status"] == "interrupted"
        # every host the run touched has one final state in the journal
        for entry in record["steps"]:
            assert all(host["status"] for host in entry["hosts"])
    assert time.monotonic() - started < 60  # bounded by the grace and the tries

    resumed = lab.orch("play", play, "--resume", run_id, "--json", timeout=120)
    events = [json.loads(line) for line in resumed.stdout.splitlines() if line.strip()]
    assert resumed.code == 0, str(resumed)
    assert events[-1]["type"] == "RunDone" and events[-1]["status"] == "ok"
    assert set(server_states(lab).values()) == {0}, server_states(lab)  # all UP, none in MAINT
    assert {served_revision(lab, name) for name in cluster(lab, "bravo")} == {str(revision)}
