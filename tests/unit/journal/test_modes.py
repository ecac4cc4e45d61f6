"""Each host's trust mode (open | restricted, from its hello) in the journal and `orch runs`."""

import io
import json
from pathlib import Path
from types import SimpleNamespace

from orch.cli.commands import runs
from orch.journal import open_journal
from orch.output import events as ev

RUN = "20261201T200000-aa11bb"
GATE = "remote runtime exited with status 1: orch gate: runtime sha256 ab is not trusted"


def feed(journal):
    journal(ev.RunStarted(RUN, "call rpcutil.ping", "call", {}, "rip", at=1000.0))
    journal(ev.StepStarted("call", "rpcutil", "ping", ["web1", "web2", "web3", "web4"]))
    journal(ev.HostReplied("call", "web1", "OK", "", {}, 0.1, 1, True, mode="restricted"))
    journal(ev.HostReplied("call", "web2", "OK", "", {}, 0.1, 1, True, mode="open"))
    journal(ev.HostReplied("call", "web3", "UnknownError", GATE, {}, 0.1, 1, True))
    journal(ev.HostUnreachable("call", "web4", "connection refused", 0.1, 1, True))
    journal(ev.StepDone("call", "rpcutil", "ping", 4, 3, 2, 1, 1, 0.5, 0))
    journal(ev.RunDone(RUN, False, {"web3": "gate"}, {"web4": "refused"}, 0.5))


def show(url, *argv):
    parser = __import__("argparse").ArgumentParser()
    runs.configure(parser)
    out = io.StringIO()
    env = SimpleNamespace(environ={"ORCH_JOURNAL": url, "HOME": "/nonexistent"}, cwd=Path("/"),
                          stdout=out)
    assert runs.run(parser.parse_args(list(argv)), env) == 0
    return out.getvalue()


def test_the_journal_counts_hosts_by_mode_and_keeps_each_hosts(journal_url):
    journal = open_journal(journal_url)
    feed(journal)
    record = journal.run(RUN)
    assert record.modes == {"restricted": 2, "open": 1}  # web3's gate refusal is restricted
    [step] = journal.steps(RUN)
    assert {host["host"]: host["mode"] for host in step.hosts} == {
        "web1": "restricted", "web2": "open", "web3": "restricted", "web4": ""}


def test_orch_runs_shows_the_modes(journal_url):
    feed(open_journal(journal_url))
    listing = show(journal_url)
    assert "MODES" in listing.splitlines()[0]
    assert "restricted 2, open 1" in listing.splitlines()[1]
    detail = show(journal_url, RUN)
    assert "modes restricted 2, open 1" in detail
    lines = {line.split()[0]: line.split()[1] for line in detail.splitlines()
             if line.startswith("  web")}
    assert lines == {"web1": "restricted", "web2": "open", "web3": "restricted", "web4": "?"}
    data = json.loads(show(journal_url, RUN, "--json"))
    assert data["run"]["modes"] == {"restricted": 2, "open": 1}
    assert [host["mode"] for host in data["steps"][0]["hosts"]] == [
        "restricted", "open", "restricted", ""]
    assert json.loads(show(journal_url, "--json"))[0]["modes"] == {"restricted": 2, "open": 1}
