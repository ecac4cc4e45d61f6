"""The seed play on hosts orch never set up by hand (issue 14): the fleet's app cluster.

scripts/fleet.py gives the fleet what a real app cluster has installed and running, and nothing
of orch: ``lb1`` runs Debian's HAProxy from its packaged init script with the packaged admin
socket (/run/haproxy/admin.sock), web1, web3 (behind the bastion) and web4 run the app server
from /etc/init.d/fleetapp and have NRPE's config at /etc/nagios/nrpe.cfg with a real check_load.
Each of those hosts has its own /etc, /run, /var/log (and, on the app servers, its own package
state), so what orch writes there is that host's alone.

The module fixture then sets the cluster up ONLY through orch, as an operator would, with the
operator's own inventory (ssh_config aliases, ``ansible_become`` on these sudo hosts, the
modules each host offers): ``orch host init -b``, then ``orch call file.write`` for
/etc/orch/classes, /etc/orch/host.json (a template rendered per host) and an external fact in
/etc/orch/facts.d; then ``orch facts --gather`` and discovery by class and fact. The tests run
``plays/app_cluster_upgrade.yml`` end to end and check what an operator checks: HAProxy's own
state per server, the revision each app answers over HTTP, and the audit log on each host.

Then (issue 15) the real run of ``plays/package_upgrade.yml`` on the same cluster: two versions
of the package module tests' tiny package (dpkg-deb, a local apt source named in host.json's
``config.package.apt_options``), each app server's own dpkg database, ``service.restart`` of its
own /etc/init.d/fleetapp, NRPE's check_load, HAProxy drained and enabled per batch; a second
run changes no package, and a --check run changes nothing.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from package_support import TINY
from test_orch_on_fleet import orch

pytestmark = pytest.mark.realfleet

REPO = Path(__file__).resolve().parents[2]
WEBHOOK = REPO / "orch" / "lab" / "webhook.py"
CLUSTER = "bravo"
APP_AGENTS = ["appmgr", "nrpe", "package", "service", "file", "orchhost"]
LB_AGENTS = ["haproxy", "angelianotify", "file", "orchhost"]

_READ_TO_END = """data = b""
while True:
    chunk = sock.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
"""

STATE_SCRIPT = """
import socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.connect("/run/haproxy/admin.sock")
sock.sendall(b"show servers state %s\\n")
""" + _READ_TO_END

GET_SCRIPT = """
import socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), 5)
sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
""" + _READ_TO_END

HOST_JSON = """{
  "classes": [],
  "facts": {},
  "config": {
    {%- if app is defined %}"appmgr": {{ app | tojson }},
    "package": {{ package | tojson }}{% else %}"angelianotify": {"url": "{{ webhook }}"}{% endif %}
  }
}
"""


class Cluster:
    """The fleet's app cluster as orch set it up: the work folder, and what an operator checks."""

    def __init__(self, fleet, folder: Path, received: Path):
        self.fleet = fleet
        self.folder = folder
        self.received = received
        self.info = fleet.info["cluster"]
        self.lb = self.info["lb"]
        self.apps = list(self.info["apps"])

    def orch(self, *argv: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return orch(self.fleet, self.folder, *argv, timeout=timeout)

    def ok(self, *argv: str, timeout: float = 240) -> subprocess.CompletedProcess:
        done = self.orch(*argv, timeout=timeout)
        assert done.returncode == 0, (argv, done.stdout[-3000:], done.stderr[-2000:])
        return done

    def events(self, *argv: str, code: int = 0, timeout: float = 240) -> list[dict]:
        done = self.orch(*argv, "--json", timeout=timeout)
        assert done.returncode == code, (argv, done.stdout[-3000:], done.stderr[-2000:])
        return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]

    def server_states(self) -> dict[str, tuple[int, int]]:
        """(srv_op_state, srv_admin_state) per server, from HAProxy's own admin socket on lb1."""
        done = self.fleet.ssh(self.lb, "sudo -n /usr/bin/python3 -",
                              input=STATE_SCRIPT % self.info["backend"].encode().decode())
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        header = next(line for line in lines if line.startswith("#")).lstrip("# ").split()
        states = {}
        for line in lines:
            fields = line.split()
            if len(fields) == len(header) and not line.startswith("#"):
                row = dict(zip(header, fields, strict=True))
                states[row["srv_name"]] = (int(row["srv_op_state"]), int(row["srv_admin_state"]))
        return states

    def wait_all_up(self, timeout: float = 30) -> dict[str, tuple[int, int]]:
        """Every server UP (op state 2) and in no maintenance or drain (admin state 0)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.server_states()
            if sorted(states) == sorted(self.apps) and set(states.values()) == {(2, 0)}:
                return states
            if time.monotonic() > deadline:
                return states
            time.sleep(0.5)

    def answer(self, address: str, port: int) -> dict:
        """``GET /`` from lb1's network namespace (it reaches every app, web3 too)."""
        netns = self.fleet.hosts[self.lb]["netns"]
        done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", GET_SCRIPT,
                               address, str(port)], capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        head, _, body = done.stdout.decode().partition("\r\n\r\n")
        headers = {name.lower(): value for name, _, value in
                   (line.partition(": ") for line in head.splitlines()[1:])}
        return {"status": head.split()[1], "body": body.strip(),
                "host": headers.get("x-orch-host")}  # HAProxy 2 sends names in lower case

    def revisions(self) -> dict[str, str]:
        """The revision each app server answers over HTTP on its own address."""
        return {name: self.answer(self.fleet.hosts[name]["app"]["address"],
                                  self.fleet.hosts[name]["app"]["port"])["body"]
                for name in self.apps}

    def audit(self, host: str) -> list[str]:
        """The host's /var/log/orch/audit.log (root's: the runtime ran with become)."""
        done = self.fleet.ssh(host, "sudo -n cat /var/log/orch/audit.log")
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    def audited(self, host: str) -> list[str]:
        """``agent=X action=Y`` of every request the host audited, in order (the runtime writes
        a line before acting and one with the outcome after: one entry per reqid)."""
        seen, found = set(), []
        for line in self.audit(host):
            match = re.match(r"reqid=([0-9a-f]{32}): .*?(agent=\S+ action=\S+)", line)
            if match and match.group(1) not in seen:
                seen.add(match.group(1))
                found.append(match.group(2))
        return found

    def on_host(self, host: str, command: str) -> str:
        done = self.fleet.ssh(host, command)
        assert done.returncode == 0, (host, command, done.stderr)
        return done.stdout


def replies(events: list[dict], module: str, action: str) -> list[dict]:
    """The final HostReplied events of every step that called ``module.action``."""
    steps = {event["step"] for event in events if event["type"] == "StepStarted"
             and (event["module"], event["action"]) == (module, action)}
    return [event for event in events if event["type"] == "HostReplied"
            and event["step"] in steps and event.get("final", True)]


def inventory(fleet, webhook: str, package: dict) -> str:
    """The operator's YAML inventory of the cluster: ssh_config aliases, become on these sudo
    hosts, what each host offers, and (as host variables) how its app runs."""
    hosts = {}
    for name in fleet.info["cluster"]["apps"]:
        spec = fleet.hosts[name]
        entry = {"agents": APP_AGENTS, "app": spec["app"], "package": package}
        if spec["auth"] == "inventory_key":
            entry["ansible_ssh_private_key_file"] = spec["key_file"]
        if spec["python"] != "/usr/bin/python3":
            entry["ansible_python_interpreter"] = spec["python"]
        hosts[name] = entry
    hosts[fleet.info["cluster"]["lb"]] = {"agents": LB_AGENTS, "webhook": webhook}
    document = {"all": {"children": {"fleetapp": {
        "vars": {"ansible_become": True, "ansible_become_method": "sudo"},
        "hosts": hosts}}}}
    return json.dumps(document, indent=1) + "\n"  # JSON is YAML


def free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def wait_port(address: str, port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((address, port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {address}:{port}")


@pytest.fixture(scope="module")
def package_repo(tmp_path_factory):
    """A local apt source with versions 1.0 and 2.0 of the package module tests' tiny package
    (built with dpkg-deb by tests/unit/modules/test_module_package.py's builder)."""
    from package_support import Repo, build_tiny

    folder = tmp_path_factory.mktemp("apt")
    repo = Repo(folder / "repo")
    repo.publish(build_tiny(folder, "1.0"), build_tiny(folder, "2.0"))
    repo.update()
    return repo


@pytest.fixture(scope="module")
def cluster(fleet, tmp_path_factory, package_repo):
    folder = tmp_path_factory.mktemp("cluster")
    gateway = fleet.info["gateway"]
    port = free_port(gateway)
    received = folder / "received.jsonl"
    webhook = subprocess.Popen(
        [sys.executable, str(WEBHOOK), "--address", gateway, "--port", str(port),
         "--out", str(received), "--pidfile", str(folder / "webhook.pid")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(gateway, port)
        (folder / "inventory.yml").write_text(
            inventory(fleet, f"http://{gateway}:{port}/", package_repo.config["package"]))
        (folder / "orch.cfg").write_text(
            "[defaults]\n"
            f"inventory = {folder / 'inventory.yml'}\n"
            f"journal = sqlite:///{folder}/journal.db\n"
            f"fact_cache = sqlite:///{folder}/facts.db\n")
        (folder / "host.json.j2").write_text(HOST_JSON)
        (folder / "classes").write_text("haproxy\n")
        (folder / "cluster.txt").write_text(f"cluster={CLUSTER}\n")
        setup = Cluster(fleet, folder, received)
        yield setup
    finally:
        webhook.terminate()
        webhook.wait(timeout=10)


@pytest.fixture(scope="module")
def set_up(cluster):
    """What the operator runs, in order; each step's output is kept for the tests."""
    c = cluster
    steps = {}
    steps["init"] = c.ok("host", "init", "-b", "-C", "fleetapp", "--json")
    steps["classes"] = c.ok("call", "file.write", "path=/etc/orch/classes", "src=classes",
                            "mode=0644", "-b", "-A", "haproxy")
    steps["host_json"] = c.ok("call", "file.write", "path=/etc/orch/host.json",
                              "src=host.json.j2", "template=true", "mode=0644", "-b",
                              "-C", "fleetapp")
    steps["facts_d"] = c.ok("call", "file.write", "path=/etc/orch/facts.d/cluster.txt",
                            "src=cluster.txt", "mode=0644", "-b", "-A", "appmgr")  # Facter's
    steps["gather"] = c.ok("facts", "--gather")
    return steps


def test_fleet_hosts_have_their_own_system_and_no_orch_before(fleet):
    """Before orch: HAProxy and the apps run from their init scripts, nothing of orch exists,
    and each host's /etc is its own (the app's init script is on the app servers only)."""
    info = fleet.info["cluster"]
    for name in info["apps"]:
        assert fleet.ssh(name, f"test -x /etc/init.d/{info['service']} && "
                               "test -f /etc/nagios/nrpe.cfg").returncode == 0, name
    assert fleet.ssh(info["lb"], f"test -e /etc/init.d/{info['service']}").returncode == 1
    assert fleet.ssh("web2", f"test -e /etc/init.d/{info['service']}").returncode == 1
    assert fleet.ssh(info["lb"], "sudo -n test -S /run/haproxy/admin.sock").returncode == 0
    assert not Path("/etc/init.d", info["service"]).exists()  # nothing on this machine


def test_host_init_and_orch_file_writes_set_the_hosts_up(cluster, set_up):
    init = [json.loads(line) for line in set_up["init"].stdout.splitlines()
            if line.startswith("{")]
    replies = {event["host"]: event for event in init if event["type"] == "HostReplied"}
    assert sorted(replies) == sorted([cluster.lb, *cluster.apps])
    assert all(event["status"] == "OK" and event["changed"] is True
               and "/etc/orch" in event["data"]["created"] for event in replies.values()), replies
    for host in [cluster.lb, *cluster.apps]:
        listing = cluster.on_host(host, "stat -c '%U:%G %a %n' /etc/orch /etc/orch/host.json "
                                        "/etc/orch/classes")
        assert [line.split()[:2] for line in listing.splitlines()] == [
            ["root:root", "755"], ["root:root", "644"], ["root:root", "644"]], (host, listing)
    assert cluster.on_host(cluster.lb, "cat /etc/orch/classes") == "haproxy\n"
    document = json.loads(cluster.on_host(cluster.apps[0], "cat /etc/orch/host.json"))
    assert document["config"]["appmgr"]["port"] == cluster.fleet.hosts[cluster.apps[0]]["app"]["port"]
    # each host's /etc/orch is its own: web2 (the machine's /etc) has none
    assert cluster.fleet.ssh("web2", "test -e /etc/orch/host.json").returncode == 1


def test_discovery_finds_the_cluster_by_class_and_fact(cluster, set_up):
    lbs = cluster.ok("discover", "-C", "haproxy")
    assert lbs.stdout.split() == [cluster.lb]
    apps = cluster.ok("discover", "-F", f"cluster={CLUSTER}", "-A", "appmgr")
    assert sorted(apps.stdout.split()) == sorted(cluster.apps)
    report = json.loads(cluster.ok("facts", "cluster", "--json").stdout)
    assert [(row["value"], row["count"]) for row in report["values"]] == [
        (CLUSTER, len(cluster.apps))]


def test_the_seed_play_upgrades_the_cluster(cluster, set_up):
    assert cluster.revisions() == {name: "1" for name in cluster.apps}
    assert cluster.wait_all_up() == {name: (2, 0) for name in cluster.apps}
    before = {host: len(cluster.audited(host)) for host in [cluster.lb, *cluster.apps]}

    events = cluster.events("play", str(REPO / "plays" / "app_cluster_upgrade.yml"),
                            "-e", f"cluster={CLUSTER}", "-e", "backend=app",
                            "-e", "revision=20", "-e", "try_sleep=1", timeout=300)
    done = next(event for event in events if event["type"] == "RunDone")
    assert done["status"] == "ok", done
    upgrades = replies(events, "appmgr", "upgrade")
    assert sorted(event["host"] for event in upgrades) == sorted(cluster.apps)
    assert all(event["data"]["revision"] == 20 and event["data"]["previous"] == 1
               for event in upgrades), upgrades

    # What the operator checks: every app answers revision 20, directly and through HAProxy
    assert cluster.revisions() == {name: "20" for name in cluster.apps}
    assert cluster.wait_all_up() == {name: (2, 0) for name in cluster.apps}
    frontend = cluster.info["frontend"].rsplit(":", 1)
    seen = {cluster.answer(frontend[0], int(frontend[1]))["host"] for _ in range(9)}
    assert seen == set(cluster.apps)

    # the notification went out from lb1 to the webhook
    messages = [json.loads(line) for line in cluster.received.read_text().splitlines()]
    assert any(f"node cluster {CLUSTER} to revision 20" in message.get("message", "")
               for message in messages), messages

    # every host audited every request it received, in root's audit log
    new = {host: cluster.audited(host)[before[host]:] for host in before}
    assert "agent=haproxy action=disable" in new[cluster.lb]
    assert "agent=haproxy action=enable" in new[cluster.lb]
    assert "agent=angelianotify action=sendmsg" in new[cluster.lb]
    assert new[cluster.lb].index("agent=haproxy action=disable") < new[cluster.lb].index(
        "agent=haproxy action=enable")
    for host in cluster.apps:
        for line in ("agent=appmgr action=upgrade", "agent=nrpe action=runcommand",
                     "agent=appmgr action=status"):
            assert line in new[host], (host, new[host])
        assert not any("agent=haproxy" in line for line in new[host])
    for line in cluster.audit(cluster.apps[0])[-3:]:
        assert re.match(r"reqid=[0-9a-f]{32}: reqtime=\d+ caller=\S+ agent=", line), line


# ---------------------------------------------------------------------------- package_upgrade.yml

def package_play(cluster, version: str, *extra: str) -> list[dict]:
    return cluster.events("play", str(REPO / "plays" / "package_upgrade.yml"),
                          "-e", f"cluster={CLUSTER}", "-e", "backend=app",
                          "-e", f"package={TINY}", "-e", f"version={version}",
                          "-e", f"service={cluster.info['service']}", "-e", "try_sleep=1",
                          "-e", "batch_size=2",
                          *extra, timeout=300)


def installed(cluster, host: str) -> str:
    """What dpkg says on ``host`` itself (its own /var/lib/dpkg layer), over ssh."""
    done = cluster.fleet.ssh(host, f"dpkg-query -W -f '${{Status}} ${{Version}}' {TINY}")
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words[2:3] == ["installed"] else ""


def app_pids(cluster) -> dict[str, str]:
    return {host: cluster.on_host(host, f"cat /run/{cluster.info['service']}/app.pid").strip()
            for host in cluster.apps}


def test_package_state_is_per_host(cluster, set_up):
    """Installing on web1 installs nothing on web3, web4, web2 or this machine."""
    first = cluster.apps[0]
    one = cluster.events("call", "package.install", f"name={TINY}", "version=1.0", "-I", first)
    assert [(e["host"], e["status"], e["changed"]) for e in one if e["type"] == "HostReplied"] \
        == [(first, "OK", True)]
    assert installed(cluster, first) == "1.0"
    assert all(installed(cluster, host) == "" for host in cluster.apps[1:] + ["web2"])
    assert subprocess.run(["dpkg-query", "-W", TINY], capture_output=True).returncode != 0


def test_package_upgrade_play_for_real_then_again_then_check(cluster, set_up):
    """plays/package_upgrade.yml with become on the cluster: batch by batch, lb1 drains the
    batch's servers, each installs 2.0 and restarts its init script, NRPE's check_load passes, lb1
    enables it. A second run changes no package; a --check run changes nothing at all."""
    first = cluster.apps[0]
    if installed(cluster, first) != "1.0":
        test_package_state_is_per_host(cluster, set_up)
    before = {host: len(cluster.audited(host)) for host in [cluster.lb, *cluster.apps]}
    pids_before = app_pids(cluster)

    events = package_play(cluster, "2.0")
    done = next(event for event in events if event["type"] == "RunDone")
    assert done["status"] == "ok", done
    installs = replies(events, "package", "install")
    assert sorted(event["host"] for event in installs) == sorted(cluster.apps)
    assert all(event["status"] == "OK" and event["changed"] is True
               and event["data"]["version"] == "2.0" for event in installs), installs
    assert {event["host"]: event["data"]["version_before"] for event in installs} == {
        host: "1.0" if host == first else "" for host in cluster.apps}
    restarts = replies(events, "service", "restart")
    assert all(event["data"]["init"] == "sysv" and event["changed"] is True
               and event["data"]["state"] == "running" for event in restarts), restarts
    for host in cluster.apps:  # package install and service restart changed each app server
        assert done["recap"][host]["changed"] == 2, done["recap"]
        assert done["recap"][host]["failed"] == 0
    # batch by batch: each server drained, then enabled, before the next one was touched
    drains = replies(events, "haproxy", "disable")
    batches = [cluster.apps[:2], cluster.apps[2:]]  # batch_size=2
    assert [event["data"]["servers"] for event in drains] == [
        {host: "DRAIN" for host in batch} for batch in batches]

    assert {host: installed(cluster, host) for host in cluster.apps} == {
        host: "2.0" for host in cluster.apps}
    assert {host: cluster.on_host(host, f"cat /usr/share/{TINY}/version").strip()
            for host in cluster.apps} == {host: "2.0" for host in cluster.apps}
    assert installed(cluster, "web2") == ""
    assert subprocess.run(["dpkg-query", "-W", TINY], capture_output=True).returncode != 0
    pids_after = app_pids(cluster)
    assert all(pids_after[host] != pids_before[host] for host in cluster.apps)  # restarted
    assert cluster.revisions() == {name: "20" for name in cluster.apps}
    assert cluster.wait_all_up() == {name: (2, 0) for name in cluster.apps}
    new = {host: cluster.audited(host)[before[host]:] for host in before}
    assert new[cluster.lb] == ["agent=haproxy action=disable",
                               "agent=haproxy action=enable"] * len(batches)
    for host in cluster.apps:
        assert {"agent=package action=install", "agent=service action=restart",
                "agent=nrpe action=runcommand"} <= set(new[host]), (host, new[host])

    again = package_play(cluster, "2.0")
    done = next(event for event in again if event["type"] == "RunDone")
    assert done["status"] == "ok", done
    installs = replies(again, "package", "install")
    assert len(installs) == len(cluster.apps)
    assert all(event["changed"] is False and event["data"]["version"] == "2.0"
               for event in installs), installs
    assert all(done["recap"][host]["changed"] == 1 for host in cluster.apps), done["recap"]

    pids = app_pids(cluster)
    states = cluster.server_states()
    checked = package_play(cluster, "1.0", "--check")
    done = next(event for event in checked if event["type"] == "RunDone")
    assert done["status"] == "ok", done
    installs = replies(checked, "package", "install")
    assert all(event["changed"] is True and event["data"]["version"] == "1.0"
               for event in installs), installs  # what it would do
    assert {host: installed(cluster, host) for host in cluster.apps} == {
        host: "2.0" for host in cluster.apps}
    assert app_pids(cluster) == pids
    assert cluster.server_states() == states
