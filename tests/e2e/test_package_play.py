"""plays/package_upgrade.yml on the real lab: its --check run changes nothing anywhere (HAProxy
state, packages, services, audit shows only read actions ran), the steps whose actions have no
check mode are 'skipped (no check mode)' on every host, and package/service say what they
would do. The real run needs root on the hosts (package.install, service.restart): the lab
logs in as the unprivileged 'orchlab', so here it only fails cleanly. The real run, with become,
is proven on the realistic fleet's app cluster: tests/realfleet/test_seed_on_fleet.py
(``test_package_upgrade_play_for_real_then_again_then_check``: version 2 installed on every app
server's own dpkg database, every server UP after, changed=0 on a second run, --check changes
nothing)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
PLAY = REPO / "plays" / "package_upgrade.yml"
PACKAGE = "sl"  # a tiny archive package, absent unless a package test is running
SERVICE = "ssh"  # a real SysV init script on this machine


def installed(name: str) -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", name],
                          capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else ""


def candidate(name: str) -> str:
    done = subprocess.run(["apt-cache", "policy", name], capture_output=True, text=True)
    match = re.search(r"Candidate:\s*(\S+)", done.stdout)
    return match.group(1) if match and match.group(1) != "(none)" else ""


def server_states(lab) -> dict[str, tuple[str, str]]:
    """(operational, admin) state per server of backend app (not its timers)."""
    text = lab.haproxy("show servers state app")
    header = next(line for line in text.splitlines() if line.startswith("#"))
    columns = header.lstrip("# ").split()
    states = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == len(columns) and not line.startswith("#"):
            row = dict(zip(columns, fields, strict=True))
            states[row["srv_name"]] = (row["srv_op_state"], row["srv_admin_state"])
    return states


def audit_actions(lab, hosts) -> dict[str, list[str]]:
    return {host: [re.search(r"agent=(\S+) action=(\S+)", line).group(0)
                   for line in lab.audit_lines(host)] for host in hosts}


def test_check_run_changes_nothing_anywhere(lab):
    version = candidate(PACKAGE)
    if not version:
        pytest.fail(f"apt knows no candidate of {PACKAGE}: run scripts/system-deps.sh")
    package_before = installed(PACKAGE)
    service_before = subprocess.run([f"/etc/init.d/{SERVICE}", "status"], capture_output=True,
                                    text=True).returncode
    haproxy_before = server_states(lab)
    hosts = ["lb1", "dev1", "dev2", "dev3"]
    audit_before = audit_actions(lab, hosts)

    line = lab.orch("call", "haproxy.disable", "backend=app", "server=dev1", "-I", "lb1",
                    "--check", check=0).stdout
    assert "lb1: skipped (no check mode)" in line  # the console's words for such a host

    events = [json.loads(line) for line in lab.orch(
        "play", str(PLAY), "-e", "cluster=alfa", "-e", "backend=app", "-e", f"package={PACKAGE}",
        "-e", f"version={version}", "-e", f"service={SERVICE}", "--check", "--json",
        check=0, timeout=300).stdout.splitlines() if line.startswith("{")]
    replies = [event for event in events if event.get("type") == "HostReplied"]
    installs = [event for event in replies if event["step"].endswith("steps[1]")]
    restarts = [event for event in replies if event["step"].endswith("steps[2]")]
    assert {event["host"] for event in installs} == {"dev1", "dev2", "dev3"}
    for event in installs:
        assert event["status"] == "OK", event
        if not package_before:
            assert event["changed"] is True and event["data"]["version"] == version
    for event in restarts:
        assert event["status"] == "OK" and event["data"]["init"] == "sysv", event
        assert event["changed"] is True  # a restart always acts: it would
    skipped = [event for event in events if event.get("type") == "HostSkipped"]
    assert {event["status"] for event in skipped} == {"NotRun"}
    assert {event["host"] for event in skipped} == {"lb1", "dev1", "dev2", "dev3"}
    done = next(event for event in events if event.get("type") == "RunDone")
    assert done["status"] == "ok" and done["recap"]["lb1"]["skipped"] > 0

    assert installed(PACKAGE) == package_before
    assert subprocess.run([f"/etc/init.d/{SERVICE}", "status"], capture_output=True,
                          text=True).returncode == service_before
    assert server_states(lab) == haproxy_before
    after = audit_actions(lab, hosts)
    new = {host: after[host][len(audit_before[host]):] for host in hosts}
    assert not any("haproxy action=disable" in line or "haproxy action=enable" in line
                   for line in new["lb1"])
    for host in ("dev1", "dev2", "dev3"):
        assert "agent=package action=install" in new[host]
        assert "agent=service action=restart" in new[host]
        assert not any("agent=nrpe" in line for line in new[host])


def test_real_run_needs_root_on_the_hosts(lab):
    """Without become, package.install as 'orchlab' fails cleanly on the first batch and the
    on_fail step puts every server back in HAProxy."""
    version = candidate(PACKAGE)
    if installed(PACKAGE):
        pytest.skip(f"{PACKAGE} is installed right now (a package test is running)")
    haproxy_before = server_states(lab)
    result = lab.orch("play", str(PLAY), "-e", "cluster=alfa", "-e", "backend=app",
                      "-e", f"package={PACKAGE}", "-e", f"version={version}",
                      "-e", f"service={SERVICE}", check=1, timeout=300)
    assert "dev1" in result.stdout and not installed(PACKAGE)
    assert server_states(lab) == haproxy_before  # drained, then re-enabled by on_fail
