"""service through the real runtime request path, on a real SysV init script in /etc/init.d
that runs the lab's real app server (orch/lab/appserver.py) on a loopback port, and on
systemd where PID 1 is systemd."""

from __future__ import annotations

import glob
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from collection_support import InProcessHost
from module_support import APPSERVER, PYTHON, free_port, load_module

ROOT = os.geteuid() == 0
SYSTEMD = load_module("service")["systemd_booted"]()

INIT_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $local_fs
# Required-Stop:     $local_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: orch test app server
### END INIT INFO
PIDFILE={folder}/app.pid
running() {{ [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
answers() {{ {python} -c 'import socket,sys; socket.create_connection(("127.0.0.1", {port}), 1)' 2>/dev/null; }}
do_start() {{
    running && return 0
    {python} {appserver} --name svc --address 127.0.0.1 --port {port} \\
        --revision-file {folder}/revision --pidfile "$PIDFILE" --log {folder}/app.log \\
        </dev/null >/dev/null 2>&1 &
    for i in $(seq 100); do answers && return 0; sleep 0.1; done
    echo "app did not come up" >&2; return 1
}}
do_stop() {{
    running || return 0
    kill "$(cat "$PIDFILE")"
    for i in $(seq 100); do running || {{ rm -f "$PIDFILE"; return 0; }}; sleep 0.1; done
    return 1
}}
case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart|force-reload) do_stop && do_start ;;
    reload) running || exit 7; echo reloaded >> {folder}/reloads ;;
    status) running && exit 0; [ -e "$PIDFILE" ] && exit 1; exit 3 ;;
    *) echo "Usage: $0 {{start|stop|restart|reload|status}}" >&2; exit 2 ;;
esac
"""


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def rc_links(name: str) -> list[str]:
    return sorted(os.path.basename(path) for path in glob.glob(f"/etc/rc[0-6S].d/[SK][0-9][0-9]{name}"))


@pytest.fixture
def sysv_app(tmp_path):
    """A real init script /etc/init.d/orch-test-<id> for the lab's app server; removed after."""
    if SYSTEMD:
        pytest.skip("PID 1 is systemd: SysV scripts are run through systemd's generator here")
    if not ROOT:
        pytest.skip("writing /etc/init.d needs root")
    name = f"orch-test-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "revision").write_text("7\n")
    port = free_port()
    script = Path("/etc/init.d") / name
    script.write_text(INIT_SCRIPT.format(name=name, folder=folder, port=port, python=PYTHON,
                                         appserver=APPSERVER))
    script.chmod(0o755)
    yield {"name": name, "port": port, "folder": folder, "script": script}
    subprocess.run([str(script), "stop"], capture_output=True, timeout=30)
    subprocess.run(["update-rc.d", "-f", name, "remove"], capture_output=True, timeout=30)
    for link in glob.glob(f"/etc/rc[0-6S].d/[SK][0-9][0-9]{name}"):
        os.unlink(link)
    script.unlink()


def answers(port: int) -> str | None:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode().strip()
    except OSError:
        return None


def pid(app) -> int:
    return int((app["folder"] / "app.pid").read_text())


def test_sysv_start_stop_restart_reload_are_idempotent(node, sysv_app):
    name, port = sysv_app["name"], sysv_app["port"]
    args = {"name": name}
    status = node.ok("service", "status", args)
    assert status == dict(status, state="stopped", state_before="stopped", enabled=False,
                          changed=False, init="sysv")

    started = node.ok("service", "start", args)
    assert started["state_before"] == "stopped" and started["state"] == "running"
    assert started["changed"] is True and answers(port) == "7"
    first_pid = pid(sysv_app)
    again = node.ok("service", "start", args)
    assert again["changed"] is False and again["state"] == "running" and pid(sysv_app) == first_pid

    restarted = node.ok("service", "restart", args)
    assert restarted["changed"] is True and restarted["state_before"] == "running"
    assert answers(port) == "7" and pid(sysv_app) != first_pid

    reloaded = node.ok("service", "reload", args)
    assert reloaded["changed"] is True
    assert (sysv_app["folder"] / "reloads").read_text() == "reloaded\n"

    stopped = node.ok("service", "stop", args)
    assert stopped["changed"] is True and stopped["state"] == "stopped" and answers(port) is None
    assert node.ok("service", "stop", args)["changed"] is False
    assert node.ok("service", "status", args)["state"] == "stopped"


def test_sysv_enable_and_disable_make_rc_links(node, sysv_app):
    name = sysv_app["name"]
    enabled = node.ok("service", "enable", {"name": name})
    assert enabled["enabled_before"] is False and enabled["enabled"] is True
    assert enabled["changed"] is True
    assert {link[0] for link in rc_links(name) if os.path.exists(f"/etc/rc2.d/{link}")} == {"S"}
    assert node.ok("service", "enable", {"name": name})["changed"] is False
    assert node.ok("service", "status", {"name": name})["enabled"] is True

    disabled = node.ok("service", "disable", {"name": name})
    assert disabled["changed"] is True and disabled["enabled"] is False
    assert not glob.glob(f"/etc/rc[2-5].d/S[0-9][0-9]{name}")
    assert node.ok("service", "disable", {"name": name})["changed"] is False
    assert node.ok("service", "enable", {"name": name})["enabled"] is True


def test_check_mode_reports_and_runs_nothing(node, sysv_app):
    name, port = sysv_app["name"], sysv_app["port"]
    data = node.ok("service", "start", {"name": name}, check=True)
    assert data["changed"] is True and data["state_before"] == "stopped"
    assert data["state"] == "running"
    assert answers(port) is None and not (sysv_app["folder"] / "app.pid").exists()
    assert node.ok("service", "enable", {"name": name}, check=True)["changed"] is True
    assert not rc_links(name)
    node.ok("service", "start", {"name": name})
    first_pid = pid(sysv_app)
    data = node.ok("service", "restart", {"name": name}, check=True)
    assert data["changed"] is True and pid(sysv_app) == first_pid
    assert node.ok("service", "stop", {"name": name}, check=True)["state"] == "stopped"
    assert answers(port) == "7"


def test_a_failing_start_is_aborted_with_the_scripts_words(node, sysv_app):
    import socket

    with socket.socket() as blocker:  # the port is taken: the app cannot come up
        blocker.bind(("127.0.0.1", sysv_app["port"]))
        blocker.listen()
        script = sysv_app["script"]
        script.write_text(script.read_text().replace("seq 100); do answers", "seq 5); do false"))
        reply = node.call("service", "start", {"name": sysv_app["name"]})
    assert reply["status"] == "Aborted"
    assert reply["message"].startswith(f"/etc/init.d/{sysv_app['name']} start exited with 1")
    assert "app did not come up" in reply["message"]


def test_unknown_service_and_bad_names(node):
    if SYSTEMD:
        pytest.skip("PID 1 is systemd")
    reply = node.call("service", "status", {"name": "no-such-service-here"})
    assert reply["status"] == "Aborted"
    assert reply["message"] == "no service no-such-service-here (no executable /etc/init.d/no-such-service-here)"
    for bad in ("../../bin/sh", "ssh; reboot", "a b", ""):
        reply = node.call("service", "start", {"name": bad})
        assert reply["status"] in ("InvalidData", "MissingData"), (bad, reply)


@pytest.mark.skipif(not SYSTEMD, reason="PID 1 is not systemd")
def test_systemd_unit_start_stop_enable(node, tmp_path):
    name = f"orch-test-{uuid.uuid4().hex[:8]}"
    unit = Path(f"/etc/systemd/system/{name}.service")
    unit.write_text("[Unit]\nDescription=orch test\n[Service]\nExecStart=/bin/sleep 600\n"
                    "[Install]\nWantedBy=multi-user.target\n")
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    try:
        assert node.ok("service", "start", {"name": name})["changed"] is True
        assert node.ok("service", "start", {"name": name})["changed"] is False
        assert node.ok("service", "enable", {"name": name})["enabled"] is True
        assert node.ok("service", "disable", {"name": name})["enabled"] is False
        assert node.ok("service", "stop", {"name": name})["state"] == "stopped"
    finally:
        subprocess.run(["systemctl", "stop", name], capture_output=True)
        unit.unlink()
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)


def test_status_is_quick(node, sysv_app):
    started = time.time()
    for _ in range(5):
        node.ok("service", "status", {"name": sysv_app["name"]})
    assert time.time() - started < 5
