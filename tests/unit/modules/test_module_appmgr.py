"""appmgr module restarting the lab's real app server (orch/lab/appserver.py) on loopback."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from module_support import PYTHON, Aborted, answer, load_module, pid_of, stop_app


def test_status_reports_what_the_app_answers(app, call):
    data = call("appmgr", "status", {}, {"appmgr": app})
    assert data == {"revision": 19, "pid": pid_of(app)}


def test_upgrade_restarts_and_serves_new_revision_then_is_idempotent(app, call):
    old_pid = pid_of(app)
    data = call("appmgr", "upgrade", {"revision": 20}, {"appmgr": app})
    assert data["revision"] == 20 and data["previous"] == 19 and data["changed"] is True
    assert answer(app) == "20"
    assert Path(app["revision_file"]).read_text().strip() == "20"
    new_pid = pid_of(app)
    assert new_pid != old_pid and data["pid"] == new_pid
    assert not Path(f"/proc/{old_pid}").exists() or "Z" in Path(f"/proc/{old_pid}/stat").read_text().split(")")[-1][:3]

    again = call("appmgr", "upgrade", {"revision": 20}, {"appmgr": app})
    assert again["changed"] is False and again["previous"] == 20
    assert pid_of(app) == new_pid
    assert call("appmgr", "status", {}, {"appmgr": app})["revision"] == 20


def test_upgrade_starts_a_stopped_app(app, call):
    stop_app(app)
    with pytest.raises(Aborted, match=r"app at http://127\.0\.0\.1:\d+/ does not answer"):
        call("appmgr", "status", {}, {"appmgr": app})
    data = call("appmgr", "upgrade", {"revision": "21"}, {"appmgr": app})
    assert data["revision"] == 21 and data["previous"] is None and data["changed"] is True
    assert answer(app) == "21"


@pytest.mark.parametrize("revision", ["twenty", "20; rm -rf /", "-1", "", True, "20\n21"])
def test_bad_revision_changes_nothing(app, call, revision):
    validation = load_module("appmgr")["AGENT"]["actions"]["upgrade"]["inputs"]["revision"]["validation"]
    assert not re.search(validation, str(revision))
    pid = pid_of(app)
    with pytest.raises(Aborted, match="revision must be a whole number"):
        call("appmgr", "upgrade", {"revision": revision}, {"appmgr": app})
    assert answer(app) == "19" and pid_of(app) == pid
    assert Path(app["revision_file"]).read_text().strip() == "19"


def test_app_that_dies_on_start_is_reported_with_its_log(app, call, tmp_path):
    broken = dict(app, command=[PYTHON, "-c", "import sys; print('config error: no db'); sys.exit(3)"])
    stop_app(app)
    with pytest.raises(Aborted, match="app exited with status 3 .*config error: no db"):
        call("appmgr", "upgrade", {"revision": 22}, {"appmgr": broken})


def test_stale_pidfile_of_another_process_is_not_killed(app, call):
    stop_app(app)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        Path(app["pidfile"]).write_text(f"{bystander.pid}\n")
        data = call("appmgr", "upgrade", {"revision": 23}, {"appmgr": app})
        assert data["revision"] == 23 and answer(app) == "23"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_unconfigured_host_is_a_clear_abort(call):
    with pytest.raises(Aborted, match=r"^appmgr is not set up on this host: set config.appmgr.port, "
                                      r"config.appmgr.command in /nonexistent/host.json$"):
        call("appmgr", "status", {}, {})
    with pytest.raises(Aborted, match=r"set config.appmgr.pidfile in /etc/orch/host.json$"):
        call("appmgr", "status", {}, {"appmgr": {"address": "127.0.0.1", "port": 1, "command": ["x"],
                                                 "revision_file": "/tmp/r", "pidfile": ""}},
             state_dir="/etc/orch")


def test_revision_parsing():
    parse = load_module("appmgr")["parse_revision"]
    assert parse("20\n") == 20
    assert parse('{"revision": 19, "host": "dev1"}') == 19
    assert parse("revision 7") == 7 and parse("Revision: 8") == 8
    assert parse("hello") is None
