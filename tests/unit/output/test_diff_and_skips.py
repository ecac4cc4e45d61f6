"""--diff rendering from HostReplied data, and the dry run's 'skipped (no check mode)' line."""

from __future__ import annotations

import io

from orch.cli.env import Environment
from orch.output import events as ev
from orch.output import make_sink

DIFF = "--- a/etc/motd\n+++ b/etc/motd\n@@ -1 +1 @@\n-old\n+new\n"


def rendered(events, **flags) -> str:
    stream = io.StringIO()
    sink = make_sink(Environment(stdout=stream, stdout_isatty=False), **flags)
    for event in events:
        sink(event)
    return stream.getvalue()


def call_events(data):
    return [
        ev.RunStarted("r1", "call file.write", "call", {}, "rip", check=True),
        ev.StepStarted("call", "file", "write", ["dev1", "dev2"]),
        ev.HostReplied("call", "dev1", "OK", "OK", data, 0.1, 1, changed=True),
        ev.HostReplied("call", "dev2", "OK", "OK", {**data, "diff": None}, 0.1, 1,
                       changed=False),
        ev.StepDone("call", "file", "write", 2, 2, 2, 0, 0, 0.2, 0, changed=1),
    ]


def test_diff_is_shown_only_when_asked():
    data = {"sha256": "ab", "changed": True, "diff": DIFF}
    plain = rendered(call_events(data))
    assert "+new" not in plain and "Diff" not in plain
    shown = rendered(call_events(data), diff=True)
    assert "diff from dev1:\n--- a/etc/motd\n+++ b/etc/motd\n@@ -1 +1 @@\n-old\n+new\n" in shown
    assert "diff from dev2" not in shown
    assert "check mode: nothing will be changed" in shown


def test_no_check_mode_skip_line():
    events = [ev.RunStarted("r1", "call haproxy.disable", "call", {}, "rip", check=True),
              ev.StepStarted("call", "haproxy", "disable", ["lb1"], check=True),
              ev.HostSkipped("call", "lb1", "no check mode", status="NotRun"),
              ev.HostSkipped("call", "dev4", "succeeded in run abc")]
    out = rendered(events)
    assert "lb1: skipped (no check mode)\n" in out
    assert "skipping dev4: succeeded in run abc\n" in out
