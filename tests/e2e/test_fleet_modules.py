"""Issue 4 end to end: the fleet modules through ``orch call`` on the real lab (sshd, HAProxy,
app servers, check_load, webhook), checked the way an operator would check them."""

from __future__ import annotations

import json
import re
import uuid

import pytest

pytestmark = pytest.mark.lab

ALFA = ["dev1", "dev2", "dev3"]


def admin_states(lab) -> dict:
    """HAProxy's own answer: server name → srv_admin_state (bit 0x01: forced maintenance)."""
    lines = [line for line in lab.haproxy("show servers state app").splitlines()
             if line.strip() and not line.startswith("#")][1:]
    return {fields[3]: int(fields[6]) for fields in (line.split() for line in lines)}


def served_by(lab, requests: int = 24) -> set:
    """Which app servers answered requests sent through HAProxy's frontend (HAProxy passes
    header names on in lower case)."""
    answered = set()
    for _ in range(requests):
        headers = {key.lower(): value for key, value in lab.http_get(lab.frontend_url)[1].items()}
        answered.add(headers["x-orch-host"])
    return answered


def revision_of(lab, name: str) -> int:
    return int(lab.http_get(lab.app_url(name))[2].strip())


def audited(lab, name: str, agent: str, action: str) -> list[str]:
    return [line for line in lab.audit_lines(name)  # the decision lines (not status= after)
            if f" agent={agent} action={action} " in line and " status=" not in line]


def test_haproxy_disable_and_enable(lab):
    before = len(audited(lab, "lb1", "haproxy", "disable"))
    try:
        result = lab.orch("call", "haproxy.disable", "backend=app", "server=dev2,dev4",
                          "-C", "haproxy", check=0)
        assert "okcount=1" in result.stdout and "MAINT" in result.stdout
        states = admin_states(lab)
        assert {name for name, admin in states.items() if admin & 0x01} == {"dev2", "dev4"}
        reached = served_by(lab)
        assert "dev2" not in reached and "dev4" not in reached and len(reached) >= 3
        assert len(audited(lab, "lb1", "haproxy", "disable")) == before + 1
        assert re.match(r"^reqid=[0-9a-f]{32}: reqtime=\d+ caller=\S+ agent=haproxy "
                        r"action=disable data=.*dev2", audited(lab, "lb1", "haproxy", "disable")[-1])

        status = lab.orch("call", "haproxy.status", "backend=app", "-C", "haproxy",
                          "--summarize", check=0)
        assert "MAINT 2, UP 4" in status.stdout
    finally:
        lab.orch("call", "haproxy.enable", "backend=app", "server=dev2,dev4", "-C", "haproxy",
                 check=0)
    assert not any(admin & 0x01 for admin in admin_states(lab).values())
    assert {"dev2", "dev4"} <= served_by(lab)


def test_haproxy_bad_names_change_nothing(lab):
    before = admin_states(lab)
    result = lab.orch("call", "haproxy.disable", "backend=nope", "server=dev2", "-C", "haproxy",
                      check=1)
    assert "lb1: Aborted: no backend 'nope' in HAProxy" in result.stdout
    result = lab.orch("call", "haproxy.disable", "backend=app", "server=dev2,dev99",
                      "-C", "haproxy", check=1)
    assert "lb1: Aborted: server dev99 is not in backend app" in result.stdout
    assert admin_states(lab) == before


@pytest.mark.parametrize("argv", [
    ("haproxy.disable", "backend=app;show info", "server=dev2", "-C", "haproxy"),
    ("haproxy.disable", "backend=app", "server=dev2,$(reboot)", "-C", "haproxy"),
    ("appmgr.upgrade", "revision=20;reboot", "-F", "cluster=alfa"),
    ("nrpe.runcommand", "command=check_load|sh", "-I", "dev1"),
    ("angelianotify.sendmsg", "recipient=rip`id`", "message=hi", "-I", "notify1"),
])
def test_metacharacters_are_refused_before_anything_is_sent(lab, argv):
    audit_before = {name: len(lab.audit_lines(name)) for name in lab.hosts}
    states_before = admin_states(lab)
    result = lab.orch("call", *argv, check=2)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert re.search(r"input '\w+'.*(does not match|expects|expected)", result.stderr)
    assert {name: len(lab.audit_lines(name)) for name in lab.hosts} == audit_before
    assert admin_states(lab) == states_before


def test_appmgr_upgrade_status_and_idempotence(lab):
    original = {name: revision_of(lab, name) for name in ALFA}
    target = max(original.values()) + 1 if 20 in original.values() else 20
    try:
        result = lab.orch("call", "appmgr.upgrade", f"revision={target}", "-F", "cluster=alfa",
                          "--batch", "2", check=0, timeout=180)
        assert "okcount=3" in result.stdout and "batch=2" in result.stdout
        assert {name: revision_of(lab, name) for name in ALFA} == dict.fromkeys(ALFA, target)
        for name in ALFA:
            line = audited(lab, name, "appmgr", "upgrade")[-1]
            assert line.endswith(f'caller=labadmin agent=appmgr action=upgrade '
                                 f'data={{"revision":{target}}} result=allowed reason=policy'), line

        status = lab.orch("call", "appmgr.status", "-F", "cluster=alfa", "--summarize", check=0)
        assert "Summary of Revision:" in status.stdout
        assert re.search(rf"Revision {target}: 3 nodes", status.stdout)

        again = lab.orch("call", "appmgr.upgrade", f"revision={target}", "-F", "cluster=alfa",
                         "--summarize", check=0)
        assert "Restarted no: 3 nodes" in again.stdout

        # A non-numeric revision is refused by the controller: exit 2, one line, nothing sent.
        audit_before = {name: len(lab.audit_lines(name)) for name in ALFA}
        bad = lab.orch("call", "appmgr.upgrade", "revision=twenty", "-F", "cluster=alfa", check=2)
        assert bad.stderr.strip().count("\n") == 0 and "revision" in bad.stderr
        assert {name: len(lab.audit_lines(name)) for name in ALFA} == audit_before
        assert {name: revision_of(lab, name) for name in ALFA} == dict.fromkeys(ALFA, target)
    finally:
        for revision in set(original.values()):
            names = [name for name in ALFA if original[name] == revision]
            lab.orch("call", "appmgr.upgrade", f"revision={revision}",
                     *[arg for name in names for arg in ("-I", name)], timeout=180)


def test_nrpe_runs_the_configured_check_load(lab):
    result = lab.orch("call", "nrpe.runcommand", "command=check_load", "-F", "cluster=alfa",
                      "--json")
    # Every lab host shares this machine: when its load passes the lab's thresholds the real
    # plugin says WARNING/CRITICAL and the reply is Aborted with that output (what tries waits on).
    events = [json.loads(line) for line in result.stdout.splitlines()]
    replies = {event["host"]: event for event in events if event.get("type") == "HostReplied"}
    assert set(replies) == set(ALFA)
    for reply in replies.values():
        if reply["status"] == "OK":
            assert reply["data"]["exitcode"] == 0
            assert reply["data"]["output"].startswith("LOAD OK - total load average: ")
            assert reply["data"]["perfdata"].startswith("load1=")
            assert "load1" in reply["data"]["metrics"]
        else:
            assert reply["status"] == "Aborted"
            assert re.match(r"^LOAD (WARNING|CRITICAL) - total load average: [\d., ]+ "
                            r"\((WARNING|CRITICAL)\)$", reply["message"])
    assert result.code == (0 if all(r["status"] == "OK" for r in replies.values()) else 1)
    for name in ALFA:
        assert audited(lab, name, "nrpe", "runcommand")

    missing = lab.orch("call", "nrpe.runcommand", "command=check_disk", "-I", "dev1", check=1)
    assert re.search(r"dev1: Aborted: no command 'check_disk' in \S+/nrpe\.cfg", missing.stdout)


def test_angelianotify_reaches_the_webhook(lab):
    message = f"rip updated 3 node cluster alfa to revision 20 ({uuid.uuid4().hex[:8]})"
    result = lab.orch("call", "angelianotify.sendmsg", "recipient=rip", f"message={message}",
                      "subject=upgrade", "-I", "notify1", check=0)
    assert "okcount=1" in result.stdout
    received = [json.loads(line) for line in lab.webhook_file.read_text().splitlines()]
    assert {"recipient": "rip", "subject": "upgrade", "message": message,
            "sender": "notify1"} in received
    assert audited(lab, "notify1", "angelianotify", "sendmsg")
