"""``su`` with root's password on the realistic fleet: hosts without sudo (bast, web5).

Their root has a password (per fleet, ``fleet.json`` ``root_password_file``, set in each host's
own /etc by scripts/fleet.py); su reads it from a terminal only, so orch runs these sessions on a
pseudo-terminal that the first stage makes raw (orch.rpc.become, orch.runtime.bootstrap). orch
runs as an operator would: HOME is the fleet's operator folder (its ~/.ssh/config, agent).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import time
from pathlib import Path

import pytest

from orch.agents.registry import Registry, find_modules
from orch.rpc.become import Become
from orch.rpc.channel import HostChannel
from orch.runtime import bootstrap, core
from orch.transport import Pool, Target, TransportOptions

pytestmark = pytest.mark.realfleet

REPO = Path(__file__).resolve().parents[2]
ORCH = REPO / ".venv" / "bin" / "orch"
SU_HOSTS = ("bast", "web5")


@pytest.fixture(scope="module")
def work(fleet, tmp_path_factory):
    """A work folder: orch.cfg, an inventory of the su hosts, the password files."""
    folder = tmp_path_factory.mktemp("su")
    (folder / "orch.cfg").write_text(
        f"[defaults]\njournal = sqlite:///{folder}/journal.db\n"
        f"fact_cache = sqlite:///{folder}/facts.db\nmodule_paths = {REPO / 'modules'}\n")
    assert [name for name, host in fleet.hosts.items() if host.get("root_password")] \
        == list(SU_HOSTS)
    password = Path(fleet.info["root_password_file"]).read_text().split("\n")[0]
    assert len(password) >= 16
    (folder / "pw").write_text(password + "\n")
    (folder / "badpw").write_text("not-the-root-password\n")
    (folder / "inv.ini").write_text("[su_hosts]\nbast\nweb5\n\n[su_hosts:vars]\n"
                                    "ansible_become_method=su\nansible_become_user=root\n")
    return folder, password


def orch(fleet, folder: Path, *argv: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([str(ORCH), *argv], cwd=folder, env=fleet.env(), text=True,
                          capture_output=True, timeout=timeout)


def replies(result: subprocess.CompletedProcess) -> dict[str, dict]:
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {event["host"]: event for event in events if event["type"] == "HostReplied"}


def test_sudo_is_not_there_and_su_asks_for_root_password(fleet):
    for name in SU_HOSTS:
        assert fleet.hosts[name]["sudo"] == "none"
        refused = fleet.ssh(name, "sudo -n true")
        assert refused.returncode != 0 and "password is required" in refused.stderr


def test_call_with_su_and_a_password_file_runs_as_root(fleet, work):
    folder, _ = work
    result = orch(fleet, folder, "call", "command.run", 'argv=["id", "-u"]', "-i", "inv.ini",
                  "-I", "bast", "-b", "--become-method", "su", "--become-password-file", "pw",
                  "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert replies(result)["bast"]["data"]["stdout"] == "0\n"


def test_inventory_method_and_several_hosts_at_once(fleet, work):
    """ansible_become_method=su from the inventory, -b on the command line, both hosts."""
    folder, _ = work
    started = time.monotonic()
    result = orch(fleet, folder, "call", "command.run", 'argv=["id", "-un"]', "-i", "inv.ini",
                  "-b", "--become-password-file", "pw", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    got = replies(result)
    assert {name: got[name]["data"]["stdout"] for name in SU_HOSTS} == \
        {"bast": "root\n", "web5": "root\n"}
    assert time.monotonic() - started < 30


def test_parallel_calls_on_the_same_host(fleet, work):
    folder, _ = work
    argv = [str(ORCH), "call", "command.run", 'argv=["id", "-u"]', "-i", "inv.ini", "-I", "bast",
            "-b", "--become-password-file", "pw", "--json", "--no-lock"]
    running = [subprocess.Popen(argv, cwd=folder, env=fleet.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for process in running:
        out, err = process.communicate(timeout=90)
        assert process.returncode == 0, out + err
        assert '"stdout": "0\\n"' in out


PLAY = """\
name: su levels
become: true
nodes:
  su: {identity: bast}
steps:
  - call: command.run
    nodes: su
    args: {argv: [id, -u]}
  - call: command.run
    nodes: su
    become: false
    args: {argv: [id, -u]}
"""


def test_a_play_with_become_and_method_su(fleet, work):
    folder, _ = work
    (folder / "su.yml").write_text(PLAY)
    result = orch(fleet, folder, "play", "su.yml", "-i", "inv.ini", "--become-password-file",
                  "pw", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = [event["data"]["stdout"] for event in map(json.loads, result.stdout.splitlines())
               if event["type"] == "HostReplied"]
    assert outputs == ["0\n", f"{fleet.info['login_uid']}\n"]


def test_a_wrong_password_fails_that_host_alone_quickly_and_clearly(fleet, work):
    """bast gets the wrong password (from the inventory), web5 the right one (the file)."""
    folder, _ = work
    (folder / "mixed.ini").write_text(
        (folder / "inv.ini").read_text().replace(
            "bast\n", "bast ansible_become_password=not-the-root-password\n", 1))
    started = time.monotonic()
    result = orch(fleet, folder, "call", "command.run", 'argv=["id", "-u"]', "-i", "mixed.ini",
                  "-b", "--become-password-file", "pw")
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bast: Aborted: become: incorrect password (su: Authentication failure)" \
        in result.stdout
    assert "web5" not in "".join(line for line in result.stdout.splitlines()
                                 if "Aborted" in line or "Failed" in line)
    assert "ok=1" in result.stdout or "okcount=1" in result.stdout
    assert elapsed < 20  # pam_unix's failure delay, once: no retries
    assert "not-the-root-password" not in result.stdout + result.stderr


def test_the_password_is_in_no_file_of_the_run_nor_the_console(fleet, work):
    folder, password = work
    result = orch(fleet, folder, "call", "command.run", 'argv=["id", "-u"]', "-i", "inv.ini",
                  "-b", "--become-password-file", "pw", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert password not in result.stdout + result.stderr
    needle = password.encode()
    seen = [str(path) for path in folder.rglob("*")
            if path.is_file() and path.name != "pw" and needle in path.read_bytes()]
    assert seen == []
    for name in SU_HOSTS:  # nor in the hosts' sshd logs
        assert needle not in Path(fleet.hosts[name]["sshd_log"]).read_bytes()
    listed = orch(fleet, folder, "runs")  # the journal as the operator reads it
    assert listed.returncode == 0 and password not in listed.stdout + listed.stderr


def test_a_missing_python_under_su_is_one_clear_line(fleet, work):
    folder, _ = work
    (folder / "nopy.ini").write_text("bast ansible_become_method=su "
                                     "ansible_python_interpreter=/nonexistent/python3\n")
    result = orch(fleet, folder, "call", "rpcutil.ping", "-i", "nopy.ini", "-b",
                  "--become-password-file", "pw")
    assert result.returncode == 1
    assert "bast: Aborted: become: " in result.stdout and "/nonexistent/python3" in result.stdout


# ------------------------------------------------------------------ 8-bit clean through the pty

async def _many_sizes(fleet, password: str) -> tuple[dict, list[int], list[int]]:
    """One su session on bast, 300 requests whose frames (both ways) grow one byte at a time,
    so every value of the length prefix's low byte crosses the terminal; then binary file
    content and output with CR, ^C, ^D and lines past 4096 bytes."""
    registry = Registry(find_modules([REPO / "modules"]))
    command_module = registry.get("command").bundle()
    file_module = registry.get("file").bundle()
    host = fleet.hosts["bast"]
    options = TransportOptions(known_hosts=fleet.operator["known_hosts"], connect_timeout=10)
    target = Target("bast", host["address"], host["port"], fleet.user,
                    agent=fleet.operator["agent_socket"])
    su = Become(method="su")
    sent, received = [], []
    async with Pool(options) as pool:
        connection = await pool.connect(target)
        channel = HostChannel(connection, bootstrap.command("/usr/bin/python3", su, "", tty=True),
                              bootstrap.payload(), become=su, password=password)
        try:
            for size in range(4000, 4300):
                message = core.request_frame(f"{size:032x}", "test", "command", "run",
                                             {"argv": ["cat"], "stdin": "x" * size}, 30)
                reply = await channel.request(message, command_module, 30)
                assert reply["status"] == "OK", reply
                assert reply["data"]["stdout"] == "x" * size
                sent.append(len(core.encode_frame(message)) % 256)  # one byte more each time
                received.append(len(core.encode_frame(reply)) % 256)  # about (elapsed varies)
            blob = bytes(range(256)) * 64 + b"\r\n\x03\x04\x11\x13\x7f" * 700
            path = f"/tmp/orch-su-test-{fleet.info['tag']}"
            written = await channel.request(core.request_frame(
                "b" * 32, "test", "file", "write",
                {"path": path, "content_b64": base64.b64encode(blob).decode()}, 30),
                file_module, 30)
            assert written["status"] == "OK", written
            script = ("import sys,hashlib; d=open(sys.argv[1],'rb').read(); "
                      "print(hashlib.sha256(d).hexdigest()); "
                      "sys.stdout.write('a\\r\\x03\\x04b' + 'z' * 9000 + '\\r\\n'); "
                      "import os; os.unlink(sys.argv[1])")
            checked = await channel.request(core.request_frame(
                "c" * 32, "test", "command", "run",
                {"argv": ["/usr/bin/python3", "-c", script, path]}, 30), command_module, 30)
            identity = await channel.request(core.request_frame(
                "d" * 32, "test", "command", "run", {"argv": ["id", "-u"]}, 30),
                command_module, 30)
        finally:
            channel.close()
    return {"blob": hashlib.sha256(blob).hexdigest(), "checked": checked,
            "identity": identity, "hello": channel.hello}, sent, received


def test_every_byte_value_survives_the_terminal(fleet, work):
    _, password = work
    got, sent, received = asyncio.run(_many_sizes(fleet, password))
    assert set(sent) == set(range(256))  # every length byte, CR LF ^C ^D ^S ^Q included
    assert len(set(received)) > 200
    assert got["identity"]["data"]["stdout"] == "0\n"
    assert got["hello"]["loaded_from"] == "bytecode"  # the binary payload arrived intact
    assert set(bootstrap.payload()) == set(range(256))
    lines = got["checked"]["data"]["stdout"].split("\n", 1)
    assert lines[0] == got["blob"]
    assert lines[1] == "a\r\x03\x04b" + "z" * 9000 + "\r\n"
