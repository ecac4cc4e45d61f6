"""The realistic fleet itself, checked with the real OpenSSH client (issue 13 item 7).

Every check logs in with ``ssh -F <operator>/.ssh/config`` and the operator's HOME and agent, as
the later orch tests will, so a broken fleet shows here first and not as a puzzling orch failure.
"""

from __future__ import annotations

import errno
import importlib.util
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orch.inventory.loader import load_inventory

pytestmark = pytest.mark.realfleet

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "fleet.py"
HOST_NAMES = ("bast", "web1", "web2", "web3", "web4", "web5", "lb1")


def fleet_module():
    spec = importlib.util.spec_from_file_location("fleet_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fleet_script", module)
    spec.loader.exec_module(module)
    return module


def ip_json(*args: str) -> list:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []


def netns_pids(name: str) -> set[int]:
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return {int(pid) for pid in out.split()}


def alive(pid: int) -> bool:
    """A process that still exists and is not a zombie (this machine's init reaps late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def key_of(line: str) -> str:
    """``type base64`` of a public key line, without its comment."""
    return " ".join(line.split()[:2])


# ---------------------------------------------------------------------------- description

def test_fleet_json_describes_every_host(fleet):
    assert sorted(fleet.hosts) == sorted(HOST_NAMES)
    addresses = [host["address"] for host in fleet.hosts.values()]
    assert len(set(addresses)) == len(addresses)
    assert len({key_of(host["host_key"]) for host in fleet.hosts.values()}) == len(HOST_NAMES)
    subnet = ipaddress.ip_network(fleet.info["subnet"])
    inner = ipaddress.ip_network(fleet.info["inner_subnet"])
    for name, host in fleet.hosts.items():
        where = inner if host["via"] else subnet
        assert ipaddress.ip_address(host["address"]) in where, name
    assert fleet.hosts["web3"]["via"] == "bast"
    assert fleet.hosts["web5"]["port"] == 2222
    assert fleet.hosts["web4"]["python"] == "/opt/python/bin/python3"
    assert {host["sudo"] for host in fleet.hosts.values()} == {"none", "nopasswd", "password"}
    assert fleet.sudo_password_file.stat().st_mode & 0o777 == 0o600
    for path in (fleet.ssh_config, fleet.inventory, Path(fleet.info["inventory_become"]),
                 Path(fleet.operator["known_hosts"]), Path(fleet.operator["known_hosts_empty"])):
        assert path.is_file(), path


def test_the_agent_key_lives_only_in_the_agent(fleet):
    listed = subprocess.run(["ssh-add", "-L"], env=fleet.env(), capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert [key_of(line) for line in listed.stdout.splitlines()] == [
        key_of(fleet.info["keys"]["agent_public"])]
    for path in Path(fleet.operator["home"]).rglob("*"):
        if path.is_file() and path.read_bytes().startswith(b"-----BEGIN OPENSSH PRIVATE KEY"):
            public = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True,
                                    text=True, check=True).stdout
            assert key_of(public) != key_of(fleet.info["keys"]["agent_public"]), path


# ---------------------------------------------------------------------------- hosts

@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_host_answers_with_its_own_hostname_and_home(fleet, name):
    result = fleet.ssh(name, "hostname; id -un; echo $SSH_CONNECTION; hostname > ~/home-of")
    assert result.returncode == 0, result.stderr
    hostname, user, connection = result.stdout.splitlines()
    host = fleet.hosts[name]
    assert (hostname, user) == (name, fleet.user)
    assert connection.split()[2:] == [host["address"], str(host["port"])]
    marker = Path(host["home"]) / "home-of"  # its /home is its own folder, bind-mounted
    assert marker.read_text().strip() == name
    marker.unlink()


def test_web3_is_reachable_only_through_the_bastion(fleet):
    address = fleet.hosts["web3"]["address"]
    started = time.monotonic()
    with socket.socket() as sock, pytest.raises(OSError) as refused:
        sock.settimeout(3)
        sock.connect((address, 22))
    assert refused.value.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH), refused.value
    assert time.monotonic() - started < 1
    route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
    assert route.returncode != 0 or route.stdout.startswith("unreachable"), route.stdout
    direct = fleet.ssh("web3", "hostname", options=("-o", "ProxyJump=none"))
    assert direct.returncode == 255 and direct.stdout == ""
    jumped = fleet.ssh("web3", "hostname; echo $SSH_CONNECTION")
    assert jumped.returncode == 0, jumped.stderr
    hostname, connection = jumped.stdout.splitlines()
    assert hostname == "web3"
    assert ipaddress.ip_address(connection.split()[0]) in ipaddress.ip_network(
        fleet.info["inner_subnet"])  # it came from the bastion's side of the hidden link
    bastion = fleet.hosts["bast"]["netns"]
    forward = subprocess.run(["ip", "netns", "exec", bastion, "cat",
                              "/proc/sys/net/ipv4/ip_forward"], capture_output=True, text=True)
    assert forward.stdout.strip() == "0"


def test_the_fleet_addresses_cannot_leave_the_machine(fleet):
    inner = ipaddress.ip_network(fleet.info["inner_subnet"])
    for address in (str(inner.network_address + 99), "10.77.255.254"):
        route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True)
        assert route.returncode != 0 and "No route to host" in route.stderr, (address, route)
    for host in fleet.hosts.values():
        routes = subprocess.run(["ip", "-n", host["netns"], "route", "show", "default"],
                                capture_output=True, text=True, check=True)
        assert routes.stdout.strip() == "", host["name"]


# ---------------------------------------------------------------------------- sudo

def test_sudo_without_password_on_web1(fleet):
    result = fleet.ssh("web1", "id -u; sudo -n id -u")
    assert result.returncode == 0, result.stderr
    plain, root = result.stdout.split()
    assert plain == str(fleet.info["login_uid"]) != "0"
    assert root == "0"


def test_sudo_on_web2_asks_for_the_password(fleet):
    result = fleet.ssh("web2", "sudo -n id -u")
    assert result.returncode != 0
    assert "password is required" in result.stderr
    assert result.stdout == ""


def test_sudo_on_web2_takes_the_password_on_stdin(fleet):
    password = fleet.sudo_password_file.read_text().strip()
    result = fleet.ssh("web2", "sudo -S -p '' id -u", input=password + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    started = time.monotonic()
    wrong = fleet.ssh("web2", "sudo -S -p '' id -u", input="not-" + password + "\n")
    assert wrong.returncode != 0 and wrong.stdout == ""
    assert "incorrect password" in wrong.stderr
    assert time.monotonic() - started < 30


def test_no_sudo_rule_on_the_bastion(fleet):
    result = fleet.ssh("bast", "sudo -n id -u")
    assert result.returncode != 0 and result.stdout == ""


# ---------------------------------------------------------------------------- root

def host_sshd_pid(fleet, name: str) -> int:
    """The pid of the host's sshd (its PidFile): a process in the host's mount namespace."""
    return int((fleet.dir / "hosts" / name / "sshd.pid").read_text())


@pytest.mark.parametrize("name", HOST_NAMES)
def test_every_host_has_its_own_root_home_and_no_root_key(fleet, name):
    host = fleet.hosts[name]
    home = Path(host["root_home"])
    assert home == fleet.dir / "hosts" / name / "root"
    for path in (home, home / ".ssh"):
        info = path.lstat()
        assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (0, 0, 0o700), path
    assert list((home / ".ssh").iterdir()) == []
    for dot in ("bashrc", "profile"):
        assert (home / f".{dot}").read_text() == Path(f"/usr/share/base-files/dot.{dot}").read_text()
    marker = home / f"root-of-{name}"
    marker.write_text(name)
    try:  # what the host sees at /root is that folder, not this machine's /root
        seen = subprocess.run(["nsenter", "-t", str(host_sshd_pid(fleet, name)), "-m",
                               "cat", f"/root/root-of-{name}"], capture_output=True, text=True)
        assert seen.returncode == 0 and seen.stdout == name, seen.stderr
        assert not Path(f"/root/root-of-{name}").exists()
    finally:
        marker.unlink()
    refused = fleet.ssh(name, "id -u", options=("-l", "root"))  # no key of root's yet
    assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused.stderr
    config = (fleet.dir / "hosts" / name / "sshd_config").read_text()
    if name == "web3":  # the host that keeps refusing root (tests/trust/test_root_login.py)
        assert host["permit_root_login"] == "no" and "PermitRootLogin no\n" in config
        assert " root@" not in config
    else:
        assert host["permit_root_login"] == "prohibit-password"
        assert "PermitRootLogin prohibit-password\n" in config
        assert f" root@{fleet.info['subnet']} " in config


# ---------------------------------------------------------------------------- python

def test_web4_has_its_python_elsewhere(fleet):
    python = fleet.hosts["web4"]["python"]
    result = fleet.ssh("web4", "test -e /usr/bin/python3 && echo present || echo absent;"
                               " command -v python3 python3.11 || echo none;"
                               f" {python} -c 'import json,sys; print(json.dumps(sys.version_info[:2]))'")
    assert result.returncode == 0, result.stderr
    found, on_path, version = result.stdout.split(maxsplit=2)
    assert (found, on_path) == ("absent", "none"), result.stdout
    assert tuple(json.loads(version)) >= (3, 6)
    other = fleet.ssh("web1", "/usr/bin/python3 -c 'import json,sys'")
    assert other.returncode == 0, other.stderr


# ---------------------------------------------------------------------------- keys

def test_the_agent_only_host_refuses_a_login_without_the_agent(fleet):
    assert fleet.hosts["web1"]["auth"] == "agent"
    refused = fleet.ssh("web1", "hostname", agent=False)
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr


def test_ssh_config_identity_file_and_port(fleet):
    result = fleet.ssh("web5", "hostname", agent=False)  # IdentityFile and Port from the config
    assert result.returncode == 0 and result.stdout.strip() == "web5", result.stderr
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.settimeout(3)
        sock.connect((fleet.hosts["web5"]["address"], 22))


def test_the_inventory_key_host_needs_that_key(fleet):
    without = fleet.ssh("web4", "hostname", identity=None)
    assert without.returncode == 255 and "Permission denied" in without.stderr
    with_key = fleet.ssh("web4", "hostname", identity=fleet.info["keys"]["inventory_key"],
                         agent=False)
    assert with_key.returncode == 0 and with_key.stdout.strip() == "web4", with_key.stderr


# ---------------------------------------------------------------------------- known_hosts

def test_known_hosts_is_hashed_and_names_every_host(fleet):
    known_hosts = fleet.operator["known_hosts"]
    lines = Path(known_hosts).read_text().splitlines()
    assert lines and all(line.startswith("|1|") for line in lines)
    for name, host in fleet.hosts.items():
        names = (name, host["address"]) if host["port"] == 22 else (
            f"[{name}]:{host['port']}", f"[{host['address']}]:{host['port']}")
        for lookup in names:
            found = subprocess.run(["ssh-keygen", "-F", lookup, "-f", known_hosts],
                                   capture_output=True, text=True)
            assert found.returncode == 0, lookup
            assert key_of(host["host_key"]) in found.stdout, lookup


def test_empty_known_hosts_variant_and_accept_new(fleet, tmp_path):
    strict = fleet.ssh("web1", "hostname", config=fleet.operator["ssh_config_empty_known_hosts"])
    assert strict.returncode == 255 and "Host key verification failed" in strict.stderr
    recorded = tmp_path / "known_hosts"
    accepted = fleet.ssh("web5", "hostname", options=(
        "-o", f"UserKnownHostsFile={recorded}", "-o", "StrictHostKeyChecking=accept-new"))
    assert accepted.returncode == 0, accepted.stderr
    host = fleet.hosts["web5"]
    found = subprocess.run(["ssh-keygen", "-F", f"[{host['address']}]:2222", "-f", str(recorded)],
                           capture_output=True, text=True)
    assert key_of(host["host_key"]) in found.stdout  # OpenSSH records the HostName and port


# ---------------------------------------------------------------------------- inventory

def test_the_inventories_are_ansible_ini_that_orch_reads(fleet):
    inventory = load_inventory(str(fleet.inventory))
    assert sorted(inventory.hosts) == sorted(HOST_NAMES)
    web4 = inventory.hosts["web4"].vars
    assert web4["ansible_ssh_private_key_file"] == fleet.info["keys"]["inventory_key"]
    assert web4["ansible_python_interpreter"] == fleet.hosts["web4"]["python"]
    assert "sudo_password" in inventory.hosts["web2"].groups
    assert not inventory.hosts["web1"].vars.get("ansible_become")
    become = load_inventory(fleet.info["inventory_become"])
    assert become.hosts["web1"].vars["ansible_become"] is True
    assert become.hosts["web2"].vars["ansible_become"] is True
    assert not become.hosts["bast"].vars.get("ansible_become")


# ---------------------------------------------------------------------------- the script

def test_status_says_every_host_is_up(fleet, run_fleet_script):
    result = run_fleet_script("status", fleet.dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DOWN" not in result.stdout
    assert all(name in result.stdout for name in HOST_NAMES)


def leftovers(other) -> list[str]:
    """Anything of fleet ``other`` still on this machine."""
    tag = other.info["tag"]
    found = [f"netns {entry['name']}" for entry in ip_json("netns", "list")
             if entry["name"].startswith(f"fl-{tag}-")]
    found += [f"link {link['ifname']}" for link in ip_json("link", "show")
              if link["ifname"].startswith((f"flb{tag}", f"flv{tag}"))]
    nets = [ipaddress.ip_network(other.info[key]) for key in ("subnet", "inner_subnet")]
    for route in ip_json("route", "show", "table", "all"):
        dst = route.get("dst", "default")
        if route.get("metric") == other.info["route_metric"] or (
                dst != "default" and ":" not in dst
                and any(ipaddress.ip_network(dst, strict=False).subnet_of(net) for net in nets)):
            found.append(f"route {route}")
    namespaces = {host["netns"] for host in other.hosts.values()}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(other.dir).encode() in (proc / "cmdline").read_bytes():
                found.append(f"process {proc.name}")
            # a host's overlays name their upper folders: a mount namespace still holding one
            if str(other.dir).encode() in (proc / "mountinfo").read_bytes():
                found.append(f"mounts of process {proc.name}")
        except OSError:
            pass
    listed = {entry["name"] for entry in ip_json("netns", "list")}
    for netns in namespaces & listed:
        found += [f"process {pid} in {netns}" for pid in netns_pids(netns)]
    if subprocess.run(["getent", "passwd", other.user], capture_output=True).returncode == 0:
        found.append(f"user {other.user}")
    return found


def test_a_second_fleet_does_not_collide_and_down_removes_all_of_it(
        fleet, tmp_path_factory, run_fleet_script, load_fleet):
    second_dir = tmp_path_factory.mktemp("fleet-second")
    built = run_fleet_script("up", second_dir)
    try:
        assert built.returncode == 0, built.stdout + built.stderr
        second = load_fleet(second_dir)
        assert second.info["up_seconds"] < 20
        assert second.info["subnet"] != fleet.info["subnet"]
        assert second.user != fleet.user
        assert second.ssh("web3", "hostname").stdout.strip() == "web3"
        pids = {second.operator["agent_pid"]}
        for host in second.hosts.values():
            pids |= netns_pids(host["netns"])
        assert len(pids) > len(HOST_NAMES)
        assert leftovers(second)
    finally:
        removed = run_fleet_script("down", second_dir)
    assert removed.returncode == 0, removed.stderr
    assert leftovers(second) == []
    assert not [pid for pid in pids if alive(pid)]
    assert list(second_dir.iterdir()) == []
    again = run_fleet_script("down", second_dir)
    assert again.returncode == 0 and "nothing was left" in again.stdout
    assert fleet.ssh("web3", "hostname").stdout.strip() == "web3"  # the first fleet is intact


def test_down_cleans_up_after_a_half_failed_up(fleet, tmp_path_factory, run_fleet_script):
    fleet_dir = tmp_path_factory.mktemp("fleet-half")
    tag = fleet_module().tag_for(fleet_dir)
    foreign = f"fleetops-{tag}"
    subprocess.run(["useradd", "-M", "-c", "someone else", foreign], check=True)
    try:
        built = run_fleet_script("up", fleet_dir)
        assert built.returncode == 1
        assert f"user {foreign} already exists and is not this fleet's" in built.stderr
        assert "Traceback" not in built.stderr
        assert [entry for entry in ip_json("netns", "list")
                if entry["name"].startswith(f"fl-{tag}-")]  # it did get half way
        removed = run_fleet_script("down", fleet_dir)
        assert removed.returncode == 0, removed.stderr
        assert "not this fleet's" in removed.stderr  # and it is left alone
        assert not [entry for entry in ip_json("netns", "list")
                    if entry["name"].startswith(f"fl-{tag}-")]
        assert not [link for link in ip_json("link", "show")
                    if link["ifname"].startswith((f"flb{tag}", f"flv{tag}"))]
        assert not [route for route in ip_json("route", "show", "table", "all")
                    if route.get("metric") == int(tag, 16) + 1]
        assert subprocess.run(["getent", "passwd", foreign]).returncode == 0
    finally:
        subprocess.run(["userdel", foreign], check=False)


def _short_lived_children(parent: int) -> list[int]:
    """The commands ``parent`` is running now, not the daemons it started (sshd, HAProxy, the
    app servers stay for ``down`` to end)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and not any(word in command for word in
                                      (b"sshd", b"haproxy", b"appserver.py")):
            found.append(int(entry.name))
    return found


def test_down_removes_everything_a_killed_up_left(fleet, tmp_path_factory, run_fleet_script,
                                                  load_fleet):
    """``up`` killed once its hosts booted (HAProxy, the app servers, their overlays and
    /run): ``down`` ends every process and so every mount namespace, and leaves nothing."""
    fleet_dir = tmp_path_factory.mktemp("fleet-killed")
    try:
        up = subprocess.Popen([sys.executable, str(SCRIPT), "up", str(fleet_dir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        booted = fleet_dir / "hosts" / "lb1" / "sshd.log"
        deadline = time.monotonic() + 60
        while up.poll() is None and time.monotonic() < deadline:
            if booted.exists() and "Server listening on" in booted.read_text(errors="replace"):
                break
            time.sleep(0.05)
        helpers = _short_lived_children(up.pid)
        up.kill()
        up.wait()
        # the command up was running when killed (``ip link add`` …) may still finish: down
        # runs after it, as an operator's would a few seconds later
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in helpers) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        tag = fleet_module().tag_for(fleet_dir)
        state = json.loads((fleet_dir / ".fleet-state.json").read_text())
        assert state["complete"] is False or up.returncode == 0
        netns = [entry["name"] for entry in ip_json("netns", "list")
                 if entry["name"].startswith(f"fl-{tag}-")]
        pids = set().union(*(netns_pids(name) for name in netns))

        def read(pid: int, name: str) -> bytes:
            try:
                return Path(f"/proc/{pid}/{name}").read_bytes()
            except OSError:  # a short-lived process (an sshd child) already gone
                return b""

        services = [pid for pid in pids if any(word in read(pid, "cmdline")
                                               for word in (b"haproxy", b"appserver.py"))]
        assert services, "the killed up had started no service to clean up"
        mounts = [pid for pid in pids if str(fleet_dir).encode() in read(pid, "mountinfo")]
        assert mounts  # the hosts' overlays name this fleet's folders
        partial = type("Partial", (), {})()  # what leftovers() needs of a fleet that has no fleet.json
        partial.info = {"tag": tag, "subnet": f"10.77.{state['k']}.0/24",
                        "inner_subnet": f"10.77.{state['k'] + 1}.0/24",
                        "route_metric": int(tag, 16) + 1}
        partial.dir, partial.user = fleet_dir, f"fleetops-{tag}"
        partial.hosts = {name: {"netns": f"fl-{tag}-{name}"} for name in HOST_NAMES}
    finally:
        removed = run_fleet_script("down", fleet_dir)
    assert removed.returncode == 0, removed.stderr
    assert leftovers(partial) == []
    assert not [pid for pid in pids if alive(pid)]


def test_not_root_or_a_missing_tool_is_a_clear_error(tmp_path):
    target = tmp_path / "never"
    if os.geteuid() == 0:
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        argv = [*as_nobody, "/usr/bin/python3", str(SCRIPT), "up", str(target)]
    else:
        argv = [sys.executable, str(SCRIPT), "up", str(target)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "must run as root" in result.stderr and "Traceback" not in result.stderr
    if os.geteuid() == 0:
        empty = tmp_path / "empty-path"
        empty.mkdir()
        result = subprocess.run([sys.executable, str(SCRIPT), "up", str(target)],
                                env={"PATH": str(empty)}, capture_output=True, text=True)
        assert result.returncode == 2
        assert "missing tools:" in result.stderr and "ip (iproute2)" in result.stderr
        assert not target.exists()
    usage = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")
    assert shutil.which("ssh")  # the tests above ran the real OpenSSH client
