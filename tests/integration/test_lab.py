"""`orch lab` for real: sshd at every host address, HAProxy, app servers, webhook, up/down."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path

import pytest
import yaml

from orch.lab import layout, processes
from orch.transport.sshlib import asyncssh

pytestmark = pytest.mark.lab


async def _ssh(lab_dir: Path, user: str, port: int, address: str, command: str) -> str:
    async with asyncssh.connect(address, port=port, username=user,
                                client_keys=[str(lab_dir / "client_key")],
                                known_hosts=str(lab_dir / "known_hosts"),
                                connect_timeout=20) as conn:
        result = await conn.run(command, check=True, timeout=20)
        return result.stdout


PROBE = ('echo "$SSH_CONNECTION"; echo "$ORCH_LAB_DIR"; cat "$SSH_USER_AUTH"; '
         'addr=$(echo "$SSH_CONNECTION" | cut -d" " -f3); cat "$ORCH_LAB_DIR/addr/$addr/host.json"')


async def test_sshd_serves_every_host_address_with_checked_host_keys(lab):
    results = await asyncio.gather(*(
        _ssh(lab.dir, lab.user, lab.port, address, PROBE) for address in lab.hosts.values()))
    client_key = (lab.dir / "client_key.pub").read_text().split()[1]
    for (name, address), output in zip(lab.hosts.items(), results, strict=True):
        connection, lab_dir, auth, *rest = output.splitlines()
        assert connection.split()[0] == "127.0.0.1" or connection.split()[0].startswith("127.")
        assert connection.split()[2] == address
        assert lab_dir == str(lab.dir)
        assert auth.split()[-1] == client_key
        host = json.loads("\n".join(rest))
        assert host["name"] == name
        callers = (lab.state_dir(name) / "callers").read_text().split()
        assert callers == [auth.split()[1], client_key, "labadmin"]


async def test_unknown_host_key_is_refused(lab, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text(f"[127.0.1.3]:{lab.port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect("127.0.1.3", port=lab.port, username=lab.user,
                                    client_keys=[str(lab.client_key)], known_hosts=str(other)):
            pass


def test_host_json_and_topology(lab):
    dev1 = json.loads((lab.state_dir("dev1") / "host.json").read_text())
    assert dev1["facts"]["cluster"] == "alfa" and dev1["facts"]["datacenter"] == "lab"
    assert "os" not in dev1["facts"]  # real system facts come from rpcutil.inventory
    assert set(dev1["agents"]) == {"rpcutil", "appmgr", "nrpe"} and dev1["classes"] == ["web"]
    assert dev1["config"]["appmgr"]["port"] == lab.settings["app_port"]
    assert json.loads((lab.state_dir("dev6") / "host.json").read_text())["facts"]["cluster"] == "bravo"
    lb1 = json.loads((lab.state_dir("lb1") / "host.json").read_text())
    assert lb1["classes"] == ["haproxy"] and lb1["config"]["haproxy"]["socket"] == str(lab.haproxy_socket)
    notify = json.loads((lab.state_dir("notify1") / "host.json").read_text())
    assert "angelianotify" in notify["agents"]
    assert dev1["config"]["angelianotify"]["url"].startswith(f"http://{lab.hosts['notify1']}:")
    assert (lab.dir / "addr" / "127.0.1.3").resolve() == lab.state_dir("dev1").resolve()
    nrpe = (lab.state_dir("dev2") / "nrpe.cfg").read_text()
    assert re.search(r"^command\[check_load\]=/usr/lib/nagios/plugins/check_load -w [\d,]+ -c [\d,]+$",
                     nrpe, re.M)


def test_inventories_describe_the_lab(lab):
    document = yaml.safe_load(lab.inventory.read_text())
    groups = document["all"]["children"]
    assert list(groups["haproxy"]["hosts"]) == ["lb1"]
    assert list(groups["web"]["children"]["alfa"]["hosts"]) == ["dev1", "dev2", "dev3"]
    assert list(groups["web"]["children"]["bravo"]["hosts"]) == ["dev4", "dev5", "dev6"]
    dev5 = groups["web"]["children"]["bravo"]["hosts"]["dev5"]
    assert dev5["ansible_host"] == lab.hosts["dev5"] and dev5["ansible_port"] == lab.port
    assert dev5["ansible_ssh_private_key_file"] == str(lab.client_key)
    assert dev5["facts"]["cluster"] == "bravo" and "appmgr" in dev5["agents"]
    ini = lab.inventory.with_suffix(".ini").read_text()
    assert "ansible_python_interpreter=/usr/bin/python3" in ini
    assert re.search(rf"^dev5 ansible_host={lab.hosts['dev5']} ansible_port={lab.port} ", ini, re.M)
    known = lab.known_hosts.read_text().splitlines()
    assert len(known) == len(lab.hosts)
    assert f"[{lab.hosts['dev6']}]:{lab.port} ssh-ed25519" in "\n".join(known)


def test_haproxy_lists_every_app_server(lab):
    state = lab.haproxy("show servers state app")
    rows = [line.split() for line in state.splitlines() if line and not line.startswith("#")]
    servers = {row[3]: row[4] for row in rows[1:] if len(row) > 4}
    assert servers == {f"dev{i}": lab.hosts[f"dev{i}"] for i in range(1, 7)}


def test_each_app_answers_with_its_revision(lab):
    for i in range(1, 7):
        name = f"dev{i}"
        status, headers, body = lab.http_get(lab.app_url(name))
        revision = (lab.state_dir(name) / "app" / "revision").read_text().strip()
        assert status == 200 and body.strip() == revision and headers["X-Orch-Host"] == name
        pid = int((lab.state_dir(name) / "app" / "app.pid").read_text())
        assert processes.alive(pid)


def test_frontend_answers_through_haproxy(lab):
    seen = set()
    for _ in range(12):
        status, headers, body = lab.http_get(lab.frontend_url)
        assert status == 200 and body.strip().isdigit()
        seen.add({key.lower(): value for key, value in headers.items()}["x-orch-host"])
    assert len(seen) > 1  # round robin over the backend


def test_webhook_records_a_post(lab):
    token = uuid.uuid4().hex
    url = f"http://{lab.hosts['notify1']}:{lab.settings['webhook_port']}/"
    assert lab.post_json(url, {"message": token})[0] == 200
    records = [json.loads(line) for line in lab.webhook_file.read_text().splitlines()]
    assert {"message": token} in records


def test_status_and_second_up_leave_the_lab_running(lab):
    status = lab.orch("lab", "status", "--json", check=0)
    data = json.loads(status.stdout)
    assert data["running"] and data["apps_up"] == data["apps_total"] == 6
    again = lab.orch("lab", "up", "--json", check=0)
    assert json.loads(again.stdout)["started"] == []
    pids = {s["name"] + s["host"]: s["pid"] for s in data["services"]}
    assert pids == {s["name"] + s["host"]: s["pid"] for s in json.loads(again.stdout)["services"]}
    text = lab.orch("lab", "status", check=0).stdout
    assert "sshd" in text and f"0.0.0.0:{lab.port}" in text and "6/6 up" in text


def _lab_pids(lab_dir: Path) -> list[int]:
    """Every live process naming the lab folder or carrying its ORCH_LAB_DIR."""
    marker = f"{lab_dir}/"
    marked = set(processes.lab_processes(lab_dir))
    return [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
            if pid != os.getpid() and processes.alive(pid)
            and (pid in marked or any(marker in part for part in processes.cmdline(pid)))]


def test_up_is_idempotent_and_down_leaves_nothing_behind(private_lab):
    """A private lab: revision 19 at start, rebuilt bigger, then nothing left.

    300 app servers put hosts on 127.0.2.x too; 1,000 work the same way (the benchmark runs
    them) but writing 1,000 state folders is slow on a loaded 2-core box.
    """
    small = private_lab(n=2)
    lab_dir = small.dir
    assert small.http_get(small.app_url("dev2"))[2] == "19\n"
    # an sshd session that is still open when 'down' runs must not survive it
    session = asyncio.run(_open_session(small))
    # hundreds of app servers' addresses, app services on none: sshd still serves them all
    big = small.orch("lab", "up", "-n", 300, "--max-apps", 0, "--json", check=0)
    data = json.loads(big.stdout)
    assert data["hosts"] == 302 and data["apps_up"] == 0
    assert not processes.alive(session)  # the rebuild stopped the old sshd's sessions too
    last = layout.address(301)
    output = asyncio.run(_ssh(lab_dir, small.user, data["settings"]["port"], last,
                              'echo "$SSH_CONNECTION"'))
    assert output.split()[2] == last == "127.0.2.52"
    assert len((lab_dir / "known_hosts").read_text().splitlines()) == 302
    session = asyncio.run(_open_session(small))
    assert session in _lab_pids(lab_dir)
    down = small.orch("lab", "down", "--json", check=0)
    assert json.loads(down.stdout)["running"] is False
    assert _lab_pids(lab_dir) == []
    assert processes.port_free(data["settings"]["port"])
    assert small.orch("lab", "status").code == 1


async def _open_session(lab) -> int:
    """Start a long-running command over the lab's sshd and leave it running; returns its pid."""
    conn = await asyncssh.connect("127.0.1.3", port=lab.port, username=lab.user,
                                  client_keys=[str(lab.client_key)],
                                  known_hosts=str(lab.known_hosts))
    process = await conn.create_process("echo $$; exec sleep 600")
    pid = int((await process.stdout.readline()).strip())
    assert processes.alive(pid)
    return pid
