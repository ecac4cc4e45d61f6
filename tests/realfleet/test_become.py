"""Privilege escalation on the realistic fleet: real sudo, NOPASSWD and with a password.

The hosts are reached with a key file from the inventory (ssh_config and the agent have their own
tests): web4's key is authorized on web2 too, the one host whose sudo asks for a password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.realfleet


@pytest.fixture(scope="module")
def work(fleet, tmp_path_factory):
    """An orch work folder for the fleet: orch.cfg, an inventory by address, the password file."""
    folder = tmp_path_factory.mktemp("become")
    info = fleet.info
    key = info["keys"]["inventory_key"]
    web2 = info["hosts"]["web2"]
    keys = Path(web2["home"]) / ".ssh" / "authorized_keys"
    public = Path(key + ".pub").read_text()
    if public not in keys.read_text():
        with open(keys, "a") as stream:
            stream.write(public)
    (folder / "orch.cfg").write_text(
        f"[defaults]\ninventory = {folder / 'inv.ini'}\nmodule_paths = {REPO / 'modules'}\n"
        f"fact_cache = sqlite:///{folder / 'facts.db'}\njournal = sqlite:///{folder / 'journal.db'}\n"
        f"known_hosts = {folder / 'known_hosts'}\nssh_user = {info['login_user']}\nssh_key = {key}\n")
    hosts = info["hosts"]
    (folder / "inv.ini").write_text(
        f"web2 ansible_host={hosts['web2']['address']}\n"
        f"web4 ansible_host={hosts['web4']['address']} "
        f"ansible_python_interpreter={hosts['web4']['python']}\n"
        f"web4auto ansible_host={hosts['web4']['address']}\n")
    password = Path(info["sudo_password_file"]).read_text().split("\n")[0]
    (folder / "pw").write_text(password + "\n")
    (folder / "badpw").write_text("not-the-password\n")
    first = orch(folder, "call", "rpcutil.ping", "--accept-new", "-I", "web2", "-I", "web4")
    assert first.returncode == 0, first.stdout + first.stderr
    return folder, password, info


def orch(folder: Path, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ORCH_")}
    return subprocess.run([sys.executable, "-m", "orch", *argv], cwd=folder, env=environ,
                          capture_output=True, text=True, timeout=120, **kwargs)


def user_of(result: subprocess.CompletedProcess) -> dict:
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    return {event["host"]: event["data"].get("value") for event in replies
            if event["type"] == "HostReplied" and event["status"] == "OK"}


def test_without_become_the_login_user_runs_it(work):
    folder, _, info = work
    result = orch(folder, "call", "rpcutil.get_fact", "fact=identity.user", "-I", "web2",
                  "-I", "web4", "--json")
    assert result.returncode == 0, result.stderr
    assert user_of(result) == {"web2": info["login_user"], "web4": info["login_user"]}


def test_become_with_nopasswd_sudo_runs_as_root(work):
    folder, _, _ = work
    result = orch(folder, "call", "rpcutil.get_fact", "fact=identity.user", "-I", "web4",
                  "-b", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert user_of(result) == {"web4": "root"}


def test_become_password_file_on_a_host_that_asks(work):
    folder, _, _ = work
    asked = orch(folder, "call", "rpcutil.get_fact", "fact=identity.user", "-I", "web2", "-b")
    assert asked.returncode == 1
    assert "become: sudo asks for a password" in asked.stdout
    result = orch(folder, "call", "rpcutil.get_fact", "fact=identity.user", "-I", "web2", "-b",
                  "--become-password-file", "pw", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert user_of(result) == {"web2": "root"}


def test_a_wrong_password_fails_that_host_quickly_and_says_so(work):
    folder, password, _ = work
    started = time.monotonic()
    result = orch(folder, "call", "rpcutil.ping", "-I", "web2", "-b",
                  "--become-password-file", "badpw")
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert "web2: Aborted: become: incorrect password" in result.stdout
    assert "not-the-password" not in result.stdout + result.stderr


def test_no_python_found_is_one_line_naming_what_was_tried(work):
    folder, _, _ = work
    result = orch(folder, "call", "rpcutil.ping", "-I", "web4auto")
    assert result.returncode == 1
    assert "orch: no python3 found on this host (tried python3 /usr/bin/python3" in result.stdout


def test_an_action_that_needs_root_is_refused_without_become(work):
    folder, _, info = work
    result = orch(folder, "call", "package.install", "name=sl", "-I", "web4")
    assert result.returncode == 2 and result.stdout == ""
    assert "needs root" in result.stderr and f"web4 ({info['login_user']})" in result.stderr


def test_the_password_is_nowhere(work):
    """Scan every process's argv and environment while a run with a password is under way, then
    the console, --json, the journal and the audit logs afterwards."""
    folder, password, info = work
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ORCH_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "orch", "call", "rpcutil.inventory", "-I", "web2", "-b",
         "--become-password-file", "pw", "--json"],
        cwd=folder, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_in: set[str] = set()
    scans = 0
    needle = password.encode()
    while process.poll() is None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            for part in ("cmdline", "environ"):
                try:
                    with open(f"/proc/{pid}/{part}", "rb") as stream:
                        if needle in stream.read():
                            seen_in.add(f"{pid}/{part}")
                except OSError:
                    continue
        scans += 1
    out, err = process.communicate()
    assert process.returncode == 0, out + err
    assert scans >= 1
    assert not seen_in
    assert password not in out + err
    journal = (folder / "journal.db").read_bytes()
    assert needle not in journal
    for log in (Path(info["hosts"]["web2"]["home"]) / ".orch" / "audit.log",
                Path("/root/.orch/audit.log"), Path("/var/log/orch/audit.log")):
        if log.exists():
            assert needle not in log.read_bytes(), log


PLAY = """\
name: become levels
become: true
nodes:
  web: {identity: web4}
  plain: {identity: web4, become: false, lock: false}
steps:
  - call: rpcutil.get_fact
    nodes: web
    args: {fact: identity.user}
  - call: rpcutil.get_fact
    nodes: web
    become: false
    args: {fact: identity.user}
  - call: rpcutil.get_fact
    nodes: plain
    args: {fact: identity.user}
"""


def test_become_at_play_node_set_and_step_level(work):
    folder, _, info = work
    (folder / "levels.yml").write_text(PLAY)
    result = orch(folder, "play", "levels.yml", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    users = [event["data"]["value"] for event in map(json.loads, result.stdout.splitlines())
             if event["type"] == "HostReplied"]
    assert users == ["root", info["login_user"], info["login_user"]]
