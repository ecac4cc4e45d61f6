"""orch on the realistic fleet (issue 13): connections resolved as OpenSSH resolves them.

orch runs as a subprocess, as an operator would: HOME is the fleet's operator folder (its
~/.ssh/config, hashed ~/.ssh/known_hosts, keys), SSH_AUTH_SOCK its agent, and an orch.cfg in a
temporary folder names only the journal and fact cache, so known_hosts and the ssh config are
orch's defaults outside the lab.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.realfleet

REPO = Path(__file__).resolve().parents[2]
ORCH = REPO / ".venv" / "bin" / "orch"
ALL = ("bast", "web1", "web2", "web3", "web4", "web5", "lb1")


def workdir(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "orch.cfg").write_text(
        "[defaults]\n"
        f"journal = sqlite:///{tmp_path}/journal.db\n"
        f"fact_cache = sqlite:///{tmp_path}/facts.db\n" + extra)
    return tmp_path


def orch(fleet, cwd: Path, *args: str, agent: bool = True,
         timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([str(ORCH), *args], cwd=cwd, env=fleet.env(agent), text=True,
                          capture_output=True, timeout=timeout)


def ping(fleet, cwd: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    """``orch call rpcutil.ping --json`` on every host: (the process, host -> its last event)."""
    done = orch(fleet, cwd, "call", "rpcutil.ping", "-i", str(fleet.inventory), "--json", *extra)
    last = {}
    for line in done.stdout.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("host") and event.get("type") in ("HostReplied", "HostUnreachable"):
            event.setdefault("message", event.get("reason", ""))
            event.setdefault("status", "Unreachable")
            last[event["host"]] = event
    return done, last


def own_config(fleet, tmp_path: Path, known_hosts: Path, before: str = "") -> Path:
    """The operator's ssh config with its own known_hosts file (and ``before`` prepended)."""
    text = fleet.ssh_config.read_text().replace(fleet.operator["known_hosts"], str(known_hosts))
    path = tmp_path / "ssh_config"
    path.write_text(before + text)
    return path


def test_ping_reaches_every_host(fleet, tmp_path):
    """Agent key, ssh_config Port and IdentityFile (web5), inventory key and Python (web4),
    ProxyJump (web3): every host answers."""
    done, last = ping(fleet, workdir(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert sorted(last) == sorted(ALL)
    assert all(event["type"] == "HostReplied" and event["status"] == "OK"
               for event in last.values()), last


def test_accept_new_records_every_host_and_a_changed_key_is_refused(fleet, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = own_config(fleet, tmp_path, known)
    cwd = workdir(tmp_path, f"ssh_config = {config}\n")
    done, last = ping(fleet, cwd)
    assert done.returncode != 0 and all(e["type"] == "HostUnreachable" for e in last.values())
    assert "unknown host key" in last["web1"]["message"]
    assert known.read_text() == ""
    done, last = ping(fleet, cwd, "--accept-new")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    recorded = {line.split()[0] for line in known.read_text().splitlines()}
    web5 = fleet.hosts["web5"]
    assert f"[{web5['address']}]:{web5['port']}" in recorded  # what OpenSSH records
    assert {fleet.hosts[h]["address"] for h in ("bast", "web1", "web2", "web3", "web4")} <= recorded
    # the file now works for OpenSSH itself
    assert fleet.ssh("web3", "true", config=config).returncode == 0

    lines = known.read_text().splitlines()
    web1 = fleet.hosts["web1"]["address"]
    number = next(i for i, line in enumerate(lines) if line.split()[0] == web1)
    other = fleet.hosts["web2"]["host_key"].split()[:2]
    lines[number] = f"{web1} {' '.join(other)}"
    known.write_text("\n".join(lines) + "\n")
    done, last = ping(fleet, cwd, "--accept-new")
    assert done.returncode == 1
    message = last["web1"]["message"]
    assert last["web1"]["type"] == "HostUnreachable"
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in message
    assert f"{known}:{number + 1}" in message and "ED25519" in message
    assert "nothing was sent" in message
    assert all(last[h]["status"] == "OK" for h in ALL if h != "web1")


def test_a_bastion_that_is_down_makes_its_targets_unreachable(fleet, tmp_path):
    config = own_config(fleet, tmp_path, Path(fleet.operator["known_hosts"]),
                        before="Host bast\n  Port 1\n\n")  # first obtained value wins
    done, last = ping(fleet, workdir(tmp_path, f"ssh_config = {config}\n"))
    assert done.returncode == 1
    assert last["web3"]["type"] == "HostUnreachable"
    assert last["web3"]["message"].startswith("via bastion bast: connection refused")
    assert "connection refused" in last["bast"]["message"]
    assert all(last[h]["status"] == "OK" for h in ("web1", "web2", "web4", "web5"))


def test_ssh_config_prints_the_effective_settings(fleet, tmp_path):
    done = orch(fleet, workdir(tmp_path), "ssh-config", "-i", str(fleet.inventory),
                "web3", "web4")
    assert done.returncode == 0, done.stderr
    web3, web4 = done.stdout.split("\n\n")
    settings = dict(line.split(" ", 1) for line in web3.splitlines())
    assert settings["hostname"] == fleet.hosts["web3"]["address"]
    assert settings["user"] == fleet.user
    assert settings["proxyjump"] == f"bast ({fleet.user}@{fleet.hosts['bast']['address']}:22)"
    assert settings["userknownhostsfile"] == fleet.operator["known_hosts"]
    assert settings["identityagent"] == fleet.operator["agent_socket"]
    four = dict(line.split(" ", 1) for line in web4.splitlines())
    assert four["identityfile"] == f"{fleet.info['keys']['inventory_key']} (inventory)"
    assert four["python"] == fleet.hosts["web4"]["python"]


def test_a_refused_ssh_option_stops_the_run_before_anything_is_sent(fleet, tmp_path):
    inventory = tmp_path / "inv.ini"
    inventory.write_text(fleet.inventory.read_text() + "\n[all:vars]\n"
                         "ansible_ssh_common_args='-o ControlMaster=auto -R 8080:x:80'\n")
    done = orch(fleet, workdir(tmp_path), "call", "rpcutil.ping", "-i", str(inventory))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "ansible_ssh_common_args" in done.stderr
    assert "-R" in done.stderr and "host bast" in done.stderr
