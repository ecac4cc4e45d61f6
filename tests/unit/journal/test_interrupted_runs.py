"""What the journal says about runs that did not end normally (issue 16): a run interrupted
(RunDone status ``interrupted``), a run whose controller was killed (``abandoned``, with the
steps and hosts it had not finished), and the play hash ``--resume`` compares."""

import os
import socket
import subprocess
import sys

from orch.journal import open_journal
from orch.journal.store import run_status
from orch.output import events as ev

RUN = "20261125T081500-ab12cd"


def start(journal, run_id=RUN):
    journal(ev.RunStarted(run_id, "app_cluster_rolling", "play", {"cluster": "bravo"}, "rip",
                          None, at=1000.0))
    journal(ev.StepStarted("steps[2].batch[1].steps[1]", "appmgr", "upgrade", ["dev4", "dev5"], 0))
    journal(ev.HostReplied("steps[2].batch[1].steps[1]", "dev4", "OK", "", {}, 0.5, 1, True))


def test_an_interrupted_run_keeps_its_status_and_cut_off_hosts(journal_url):
    journal = open_journal(journal_url)
    start(journal)
    journal(ev.HostSkipped("steps[2].batch[1].steps[1]", "dev5", "interrupted", status="NotRun"))
    journal(ev.RunDone(RUN, False, {}, {}, 1.0, "interrupted by SIGINT", status="interrupted"))
    assert journal.run(RUN).status == "interrupted"
    assert journal.unfinished(RUN) == [("steps[2].batch[1].steps[1]", ["dev5"])]
    assert ("steps[2].batch[1].steps[1]", "dev5") not in journal.succeeded(RUN)


def test_a_run_whose_controller_died_is_abandoned_with_what_it_left(journal_url):
    """Old code: SIGKILL left the run 'running' forever."""
    # Record the run from a child process that then dies, as a SIGKILLed controller would.
    code = (f"import sys; sys.path.insert(0, {os.getcwd()!r})\n"
            "from orch.journal import open_journal\n"
            "from tests.unit.journal.test_interrupted_runs import start\n"
            f"start(open_journal({journal_url!r}))\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.getcwd())
    journal = open_journal(journal_url)
    record = journal.run(RUN)
    assert record.status == "abandoned"
    assert record.owner.startswith(socket.gethostname() + ":")
    assert journal.unfinished(RUN) == [("steps[2].batch[1].steps[1]", ["dev5"])]


def test_a_live_run_stays_running_and_old_foreign_ones_are_abandoned():
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert run_status("running", me, 1e12) == "running"
    assert run_status("running", "elsewhere:1", 1.0, now=1.0 + 7 * 3600) == "abandoned"
    assert run_status("interrupted", "elsewhere:1", 1.0) == "interrupted"


def test_the_play_hash_is_kept(journal_url):
    journal = open_journal(journal_url)
    start(journal)
    journal.annotate(RUN, play_hash="ab" * 32)
    assert journal.run(RUN).play_hash == "ab" * 32
