"""The fleet modules served by the real runtime process (orch/runtime/core.py over its frame
protocol on pipes, started as the controller starts it): statuses, audit, and an app that
outlives the runtime without holding its channel open."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
import uuid

import pytest
from module_support import MODULES, answer, haproxy_states, pid_of

from orch.runtime import bootstrap, core

REMOTE_PYTHON = "/usr/bin/python3"
pytestmark = pytest.mark.skipif(not os.path.exists(REMOTE_PYTHON), reason="no /usr/bin/python3")


class Runtime:
    """One runtime process spoken to over pipes."""

    def __init__(self, state_dir):
        self.process = subprocess.Popen(
            [REMOTE_PYTHON, "-I", "-S", "-c", bootstrap.COMMAND],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin", "HOME": str(state_dir), "ORCH_STATE_DIR": str(state_dir)})
        self.process.stdin.write(bootstrap.payload())
        self.process.stdin.flush()
        self.sent = set()
        assert core.read_frame(self.process.stdout)["kind"] == "hello"

    def call(self, module: str, action: str, args: dict) -> dict:
        if module not in self.sent:
            source = (MODULES / f"{module}.py").read_text()
            self._send({"kind": "module", "name": module, "hash": core.source_hash(source),
                        "source": source})
            self.sent.add(module)
        reqid = uuid.uuid4().hex
        self._send({"kind": "request", "reqid": reqid, "caller": "tester", "module": module,
                    "action": action, "args": args, "timeout": 0})
        reply = core.read_frame(self.process.stdout)
        assert reply["reqid"] == reqid
        return reply

    def _send(self, message: dict) -> None:
        self.process.stdin.write(core.encode_frame(message))
        self.process.stdin.flush()

    def exit(self) -> None:
        self._send({"kind": "exit"})
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.fixture
def host(tmp_path, lb, app):
    state = tmp_path / "state"
    state.mkdir()
    (state / "nrpe.cfg").write_text(
        "command[check_ok]=/usr/lib/nagios/plugins/check_dummy 0 'all good'\n"
        "command[check_bad]=/usr/lib/nagios/plugins/check_dummy 2 'disk on fire'\n")
    (state / "host.json").write_text(json.dumps({
        "name": "dev1", "facts": {"cluster": "alfa"}, "classes": ["web"],
        "agents": ["haproxy", "appmgr", "nrpe"],
        "config": {"haproxy": lb["config"]["haproxy"], "appmgr": app,
                   "nrpe": {"config": str(state / "nrpe.cfg")}}}))
    runtime = Runtime(state)
    yield runtime, state
    if runtime.process.poll() is None:
        runtime.process.kill()
        runtime.process.wait()


def reaches_end(descriptor: int, seconds: float) -> bool:
    """True when the pipe reports end of file within ``seconds`` (every writer closed it)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        ready, _, _ = select.select([descriptor], [], [], max(0.0, deadline - time.time()))
        if ready and os.read(descriptor, 65536) == b"":
            return True
    return False


def audit(state) -> list[str]:
    return (state / "audit.log").read_text().splitlines()


def test_haproxy_statuses_through_the_runtime(host, lb):
    runtime, state = host
    reply = runtime.call("haproxy", "disable", {"backend": "app", "server": ["dev2"]})
    assert reply["status"] == "OK" and reply["data"]["servers"] == {"dev2": "MAINT"}
    assert haproxy_states(lb["socket"])["dev2"] == "MAINT"
    reply = runtime.call("haproxy", "enable", {"backend": "app", "server": ["dev2", "dev9"]})
    assert reply["status"] == "Aborted" and reply["message"] == "server dev9 is not in backend app"
    reply = runtime.call("haproxy", "enable", {"backend": "app;show info", "server": ["dev2"]})
    assert reply["status"] == "InvalidData" and "'backend'" in reply["message"]
    assert haproxy_states(lb["socket"])["dev2"] == "MAINT"
    assert [line.split(" action=")[1].split()[0] for line in audit(state)
            if " status=" not in line] == ["disable", "enable", "enable"]


def test_nrpe_status_follows_exit_code(host):
    runtime, _ = host
    reply = runtime.call("nrpe", "runcommand", {"command": "check_ok"})
    assert reply["status"] == "OK" and reply["data"]["output"] == "OK: all good"
    reply = runtime.call("nrpe", "runcommand", {"command": "check_bad"})
    assert reply["status"] == "Aborted" and reply["message"] == "CRITICAL: disk on fire (CRITICAL)"
    reply = runtime.call("nrpe", "runcommand", {"command": "check_load"})
    assert reply["status"] == "Aborted" and reply["message"].startswith("no command 'check_load' in ")


def test_restarted_app_outlives_the_runtime_and_does_not_hold_its_channel(host, app):
    runtime, state = host
    # Without --log the app server keeps whatever stdout/stderr appmgr gives it.
    command = app["command"][:app["command"].index("--log")]
    (state / "host.json").write_text(json.dumps(dict(
        json.loads((state / "host.json").read_text()), config={"appmgr": dict(app, command=command)})))
    runtime = Runtime(state)
    reply = runtime.call("appmgr", "upgrade", {"revision": 20})
    assert reply["status"] == "OK", reply
    assert reply["data"]["revision"] == 20 and reply["data"]["previous"] == 19
    new_pid = pid_of(app)
    runtime.exit()
    # The controller's side of the channel ends when the runtime does: the app holds no copy.
    for stream in (runtime.process.stdout, runtime.process.stderr):
        assert reaches_end(stream.fileno(), seconds=5)
    assert answer(app) == "20" and pid_of(app) == new_pid
    assert "agent=appmgr action=upgrade" in audit(state)[-1] and "20" in audit(state)[-1]
