"""The journal as a sink and as the reader behind `orch runs` and `--resume`."""

from orch.journal import open_journal
from orch.output import events as ev


def feed(journal, run_id="20261125T081500-ab12cd", resumed_from=None, dev5="Aborted"):
    journal(ev.RunStarted(run_id, "app_cluster_upgrade", "play", {"cluster": "bravo", "pw": "********"},
                          "rip", resumed_from, at=1000.0))
    journal(ev.StepStarted("steps[1]", "appmgr", "upgrade", ["dev4", "dev5"], 2))
    journal(ev.HostReplied("steps[1]", "dev4", "OK", "", {"revision": 20}, 0.5, 1, True))
    journal(ev.HostReplied("steps[1]", "dev5", dev5, "deploy failed", {}, 0.5, 1, False))
    journal(ev.HostReplied("steps[1]", "dev5", dev5, "deploy failed", {}, 0.5, 2, True))
    journal(ev.StepDone("steps[1]", "appmgr", "upgrade", 2, 2, 1, 1, 0, 1.0, 2))
    journal(ev.StepFailed("steps[1]", "appmgr#upgrade failed on 1 of 2 host(s)"))
    journal(ev.RunDone(run_id, False, {"dev5": "appmgr#upgrade: Aborted"}, {}, 1.5, "step failed"))


def test_runs_are_listed_with_host_counts(journal_url):
    journal = open_journal(journal_url)
    feed(journal)
    [record] = journal.runs()
    assert (record.run_id, record.name, record.status) == ("20261125T081500-ab12cd",
                                                           "app_cluster_upgrade", "failed")
    assert (record.hosts_ok, record.hosts_failed) == (1, 1)
    assert record.inputs == {"cluster": "bravo", "pw": "********"}


def test_one_run_shows_each_host_per_step(journal_url):
    journal = open_journal(journal_url)
    feed(journal)
    [step] = journal.steps("20261125T081500-ab12cd")
    assert step.failed and "failed on 1 of 2" in step.reason
    by_host = {h["host"]: h for h in step.hosts}
    assert by_host["dev4"]["status"] == "OK" and by_host["dev4"]["data"] == {"revision": 20}
    assert by_host["dev5"]["status"] == "Aborted" and by_host["dev5"]["attempts"] == 2


def test_resume_lookup_counts_ok_and_skipped(journal_url):
    path = journal_url
    journal = open_journal(path)
    feed(journal)
    assert journal.succeeded("20261125T081500-ab12cd") == {("steps[1]", "dev4")}
    journal = open_journal(path)  # a second run, resuming the first, in a new process
    journal(ev.RunStarted("20261125T090000-000001", "app_cluster_upgrade", "play", {}, "rip",
                          "20261125T081500-ab12cd"))
    journal(ev.HostSkipped("steps[1]", "dev4", "succeeded in run 20261125T081500-ab12cd"))
    journal(ev.HostReplied("steps[1]", "dev5", "OK", "", {}, 0.5, 1, True))
    journal(ev.RunDone("20261125T090000-000001", True, {}, {}, 1.0))
    assert journal.succeeded("20261125T090000-000001") == {("steps[1]", "dev4"), ("steps[1]", "dev5")}
    newest = journal.runs()[0]
    assert newest.resumed_from == "20261125T081500-ab12cd" and newest.status == "ok"


def test_interrupted_runs_are_marked(journal_url):
    journal = open_journal(journal_url)
    journal(ev.RunStarted("20261125T081500-ab12cd", "p", "play", {}, "rip"))
    journal.mark("20261125T081500-ab12cd", "interrupted")
    assert journal.run("20261125T081500-ab12cd").status == "interrupted"
    assert journal.notes("20261125T081500-ab12cd") == []


def test_locks_one_run_per_host(journal_url):
    import subprocess

    import pytest

    from orch.journal.locks import HostsLocked, this_owner

    journal = open_journal(journal_url)
    journal.lock("RUN-A", ["dev4", "dev5"])
    journal.lock("RUN-A", ["dev5"])  # a run may lock its own hosts again
    with pytest.raises(HostsLocked) as error:
        journal.lock("RUN-B", ["dev1", "dev5", "dev4"])
    assert str(error.value) == ("hosts are being changed by another run: dev4, dev5 by run RUN-A"
                                " (see 'orch runs RUN_ID')")
    journal.lock("RUN-C", ["dev1"])  # all or none: RUN-B took nothing
    journal.unlock("RUN-A")
    journal.lock("RUN-B", ["dev4", "dev5"])
    # a lock whose controller died on this machine is stale and taken over
    dead = subprocess.Popen(["true"])
    dead.wait()
    machine = this_owner().rpartition(":")[0]
    journal.lock("RUN-D", ["dev9"], owner=f"{machine}:{dead.pid}")
    journal.lock("RUN-E", ["dev9"])
    with pytest.raises(HostsLocked, match="dev9 by run RUN-E"):
        journal.lock("RUN-F", ["dev9"])


def test_runs_list_newest_first_even_within_one_second(journal_url):
    journal = open_journal(journal_url)
    journal(ev.RunStarted("20261125T081500-ffffff", "p", "play", {}, "rip", at=1000.1))
    journal(ev.RunStarted("20261125T081500-000000", "p", "play", {}, "rip", at=1000.7))
    assert [r.run_id for r in journal.runs()] == ["20261125T081500-000000", "20261125T081500-ffffff"]
