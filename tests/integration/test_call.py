"""``orch call`` against the lab's real sshd: the wire, trust and failure paths of issue 3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, orch_command

pytestmark = pytest.mark.lab

TEST_MODULES = {"ORCH_MODULE_PATHS": f"{REPO / 'modules'},{REPO / 'tests/data/modules'}"}


def done_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("done "))


def test_ping_every_host(lab):
    result = lab.orch("call", "rpcutil.ping", "-v", check=0)
    assert "calling rpcutil#ping for 8 node(s)" in result.stdout
    for name in lab.hosts:
        assert f"processing result from {name} [OK]" in result.stdout
    assert "discovered=8 responses=8 failcount=0 okcount=8" in done_line(result.stdout)
    run_id = lab.orch("runs", check=0).stdout.splitlines()[1].split()[0]
    shown = lab.orch("runs", run_id, check=0).stdout
    assert "rpcutil" in shown and "dev6" in shown


def test_json_lines_are_events(lab):
    result = lab.orch("call", "rpcutil.ping", "-I", "dev1", "--json", check=0)
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [event["type"] for event in events]
    assert types[0] == "RunStarted" and types[-1] == "RunDone"
    replied = [e for e in events if e["type"] == "HostReplied"]
    assert replied[0]["host"] == "dev1" and replied[0]["status"] == "OK"
    assert isinstance(replied[0]["data"]["pong"], int)


def test_controller_refuses_bad_input_before_sending(lab):
    before = {name: len(lab.audit_lines(name)) for name in lab.hosts}
    result = lab.orch("call", "appmgr.upgrade", "revision=abc", "-F", "cluster=alfa")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and "revision" in result.stderr
    assert "Traceback" not in result.stderr
    result = lab.orch("call", "rpcutil.nosuchaction")
    assert result.code == 2 and "no action 'nosuchaction'" in result.stderr
    assert {name: len(lab.audit_lines(name)) for name in lab.hosts} == before


def test_host_validates_again_and_reports_unknown_action(lab):
    """Bypass the controller's checks: the runtime on the host refuses on its own."""
    import asyncio

    from orch.agents import load_registry
    from orch.config import load_config
    from orch.inventory import load_inventory
    from orch.rpc.channel import HostChannel
    from orch.rpc.session import target_of
    from orch.runtime import bootstrap
    from orch.transport import Pool, TransportOptions

    config = load_config({}, {}, lab.workdir, lab.workdir)
    spec = load_registry(config).get("appmgr")
    host = load_inventory([str(lab.inventory)]).hosts["dev1"]

    async def send(action, args):
        async with Pool(TransportOptions(known_hosts=str(lab.known_hosts))) as pool:
            connection = await pool.connect(target_of(host, config))
            channel = HostChannel(connection, bootstrap.command(), bootstrap.payload())
            try:
                return await channel.request(
                    {"kind": "request", "reqid": "a" * 32, "caller": "test", "module": "appmgr",
                     "action": action, "args": args, "timeout": 10},
                    [(spec.name, spec.hash, spec.source)], 10)
            finally:
                channel.close()

    reply = asyncio.run(send("upgrade", {"revision": "abc; rm -rf /"}))
    assert reply["status"] == "InvalidData" and "revision" in reply["message"]
    reply = asyncio.run(send("upgrade", {}))
    assert reply["status"] == "MissingData"
    reply = asyncio.run(send("explode", {}))
    assert reply["status"] == "UnknownAction"
    assert lab.http_get(lab.app_url("dev1"))[2].strip() != "abc"


def test_audit_line_per_request_with_sensitive_input_masked(lab):
    result = lab.orch("call", "labtest.echo", "text=hello there", "secret=hunter2", "-I", "dev2",
                      "-v", env=TEST_MODULES, check=0)
    assert "hunter2" not in result.stdout + result.stderr
    assert "Secret length: 7" in result.stdout  # the output's display_as name
    line = lab.audit_lines("dev2")[-1]
    assert " caller=labadmin agent=labtest action=echo " in line
    assert line.startswith("reqid=") and len(line.split(":")[0]) == len("reqid=") + 32
    assert "hunter2" not in line and "********" in line and "hello there" in line
    journal = lab.workdir / "journal.db"
    assert journal.exists() and b"hunter2" not in journal.read_bytes()
    for wal in lab.workdir.glob("journal.db-*"):
        assert b"hunter2" not in wal.read_bytes()
    runs = lab.orch("runs", check=0)
    assert "call labtest.echo" in runs.stdout


def test_policy_denial_is_audited_and_not_run(lab):
    policy = lab.state_dir("lb1") / "policy" / "haproxy.policy"
    policy.parent.mkdir(exist_ok=True)
    policy.write_text("policy default deny\nallow\t*\tstatus\t*\t*\n")
    try:
        result = lab.orch("call", "haproxy.disable", "backend=app", "server=dev2", "-C", "haproxy")
        assert result.code == 1
        assert "lb1 [Aborted]" in result.stdout
        assert "Failed hosts (1):" in result.stdout
        assert " action=disable " in lab.audit_lines("lb1")[-1]
        state = lab.haproxy("show servers state app")
        dev2 = next(line for line in state.splitlines() if " dev2 " in line)
        assert dev2.split()[6] == "0", "admin state must not be MAINT: the denied action ran"
        lab.orch("call", "haproxy.status", "backend=app", "-C", "haproxy", check=0)
    finally:
        policy.unlink()


def _known_hosts_copy(lab, tmp_path: Path, change: str | None = None) -> Path:
    """known_hosts with the entry of the host at address ``change`` given another key."""
    from orch.transport.sshlib import asyncssh

    lines = lab.known_hosts.read_text().splitlines()
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    if change:
        lines = [f"[{change}]:{lab.port} {other}" if line.startswith(f"[{change}]:") else line
                 for line in lines]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_changed_host_key_stops_that_host_only(lab, tmp_path):
    known = _known_hosts_copy(lab, tmp_path, change=lab.hosts["dev3"])
    before = len(lab.audit_lines("dev3"))
    result = lab.orch("call", "rpcutil.ping", "-C", "web", env={"ORCH_KNOWN_HOSTS": str(known)})
    assert result.code == 1
    assert "dev3 [Unreachable]" in result.stdout and "does not match known_hosts" in result.stdout
    assert "responses=5" in done_line(result.stdout) and "unreachable=1" in done_line(result.stdout)
    assert len(lab.audit_lines("dev3")) == before, "nothing may reach a host with a changed key"


def test_unknown_keys_refused_then_accept_new_records_them(lab, tmp_path):
    known = tmp_path / "empty_known_hosts"
    known.write_text("")
    env = {"ORCH_KNOWN_HOSTS": str(known)}
    result = lab.orch("call", "rpcutil.ping", env=env)
    assert result.code == 1 and "unknown host key" in result.stdout
    assert "--accept-new" in result.stdout
    result = lab.orch("call", "rpcutil.ping", "--accept-new", env=env, check=0)
    lines = known.read_text().splitlines()
    assert len(lines) == len(lab.hosts) and len(set(lines)) == len(lines)
    assert all(line.startswith("[127.0.") and " ssh-ed25519 " in line for line in lines)
    lab.orch("call", "rpcutil.ping", env=env, check=0)  # now strict mode trusts them


def test_unreachable_host_reported_while_others_succeed(lab, tmp_path):
    inventory = tmp_path / "inv.yml"
    dead_port = free_port()
    inventory.write_text(lab.inventory.read_text() + (
        "ghosts:\n  hosts:\n    ghost1:\n"
        f"      ansible_host: 127.0.9.9\n      ansible_port: {dead_port}\n"))
    result = lab.orch("call", "rpcutil.ping", "-i", inventory, "-I", "dev1", "-I", "ghost1")
    assert result.code == 1
    assert "ghost1 [Unreachable] connection refused" in result.stdout
    assert "Unreachable hosts (1):" in result.stdout
    assert "okcount=1" in done_line(result.stdout)


def test_timeout_is_honoured(lab):
    started = time.monotonic()
    result = lab.orch("call", "labtest.sleep", "seconds=30", "--timeout", "2", "-I", "dev4",
                      env=TEST_MODULES)
    assert time.monotonic() - started < 15
    assert result.code == 1 and "timed out" in result.stdout


def _processes_of(address: str) -> list[int]:
    """The sshd session and runtime serving ``address`` (not the app the lab runs there)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"appserver" in cmdline:
            continue
        if any(item.startswith(b"SSH_CONNECTION=") and item.split()[2] == address.encode()
               for item in environ if item.count(b" ") >= 3):
            pids.append(int(entry.name))
    return pids


def test_host_killed_mid_request(lab):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")} | TEST_MODULES
    proc = subprocess.Popen(orch_command() + ["call", "labtest.sleep", "seconds=10", "-I", "/^dev/"],
                            cwd=lab.workdir, env=env, stdout=subprocess.PIPE, text=True)
    address = lab.hosts["dev5"]
    deadline = time.monotonic() + 10
    while not _processes_of(address) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    for pid in _processes_of(address):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1, stdout
    assert "dev5 [Unreachable]" in stdout
    assert "okcount=5" in done_line(stdout)


def test_a_host_is_hung_up_on_once_it_has_answered(lab):
    """A one-step call does not keep a finished host's session open until the run ends."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")} | TEST_MODULES
    proc = subprocess.Popen(orch_command() + ["call", "labtest.sleep", "seconds=3", "--batch", "1",
                                              "-I", "dev1", "-I", "dev2"],
                            cwd=lab.workdir, env=env, stdout=subprocess.PIPE, text=True)
    first, second = lab.hosts["dev1"], lab.hosts["dev2"]
    deadline = time.monotonic() + 20
    while not _processes_of(second) and time.monotonic() < deadline:
        time.sleep(0.1)  # the second batch has started: the first host has answered
    time.sleep(0.5)
    busy, finished = _processes_of(second), _processes_of(first)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, stdout
    assert busy, "the second host's session should still be running"
    assert not finished, "the first host's sshd session and runtime should be gone"


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_call_on_either_event_loop(lab, loop):
    """uvloop is the default loop; asyncio's own, on request, does the same job."""
    result = lab.orch("call", "rpcutil.ping", "-v", env={"ORCH_EVENT_LOOP": loop}, check=0)
    for name in lab.hosts:
        assert f"processing result from {name} [OK]" in result.stdout
    assert "discovered=8 responses=8 failcount=0 okcount=8" in done_line(result.stdout)


def test_unknown_event_loop_is_refused_before_anything_is_sent(lab):
    before = len(lab.audit_lines("dev1"))
    result = lab.orch("call", "rpcutil.ping", "-I", "dev1", env={"ORCH_EVENT_LOOP": "tokio"})
    assert result.code == 2 and result.stderr.count("\n") == 1
    assert "ORCH_EVENT_LOOP" in result.stderr and "Traceback" not in result.stderr
    assert len(lab.audit_lines("dev1")) == before
