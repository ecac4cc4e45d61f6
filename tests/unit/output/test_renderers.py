import io
import json

from orch.cli.env import Environment
from orch.output import events as ev
from orch.output import make_sink


def _render(events, **kwargs):
    out = io.StringIO()
    sink = make_sink(Environment(stdout=out, stdout_isatty=False), **kwargs)
    for event in events:
        sink(event)
    return out.getvalue()


STEP = [
    ev.Announced("Disabling app servers"),
    ev.StepStarted("s1", "appmgr", "upgrade", ["dev3", "dev4"], 2),
    ev.HostReplied("s1", "dev3", "OK", "", {"revision": 20}, 0.5, 1),
    ev.HostReplied("s1", "dev4", "Aborted", "app did not start", {}, 0.5, 1, final=False),
    ev.HostUnreachable("s1", "dev4", "connection refused", 0.1, 2),
    ev.StepDone("s1", "appmgr", "upgrade", 2, 1, 1, 0, 1, 1.234, 2),
    ev.Summarized("s1", "Summary of Revision", [["Revision 20", "1 nodes"]]),
    ev.RunDone("r1", False, {}, {"dev4": "connection refused"}, 2.0),
]


def test_plain_lines_have_the_seed_shape():
    text = _render(STEP, verbose=True)
    assert ">>>> Disabling app servers" in text
    assert "calling appmgr#upgrade for 2 node(s) in batches of 2" in text
    assert "processing result from dev3 [OK]" in text
    assert "processing result from dev4 [Aborted] app did not start (attempt 1, will retry)" in text
    assert "processing result from dev4 [Unreachable] connection refused" in text
    assert ("done appmgr#upgrade [discovered=2 responses=1 failcount=0 okcount=1 "
            "totaltime=1.23 batch=2] unreachable=1") in text
    assert "Summary of Revision:" in text and "Revision 20: 1 nodes" in text
    assert "Unreachable hosts (1):" in text and "dev4: connection refused" in text
    assert "\x1b[" not in text


def test_quiet_hides_ok_hosts_but_not_failures():
    text = _render(STEP, verbose=False)
    assert "processing result from dev3" not in text
    assert "dev4 [Aborted]" in text


def test_json_lines_one_object_per_event():
    lines = _render(STEP, json=True).splitlines()
    assert len(lines) == len(STEP)
    first = json.loads(lines[1])
    assert first["type"] == "StepStarted" and first["hosts"] == ["dev3", "dev4"]


def test_console_renders_without_error_on_a_terminal():
    out = io.StringIO()
    sink = make_sink(Environment(stdout=out, stdout_isatty=True), verbose=True)
    for event in STEP:
        sink(event)
    assert "done appmgr#upgrade" in out.getvalue()
