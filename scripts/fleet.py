#!/usr/bin/env python3
"""Build, inspect and remove orch's realistic test fleet (issue 13 item 7, DESIGN section 7).

    python3 scripts/fleet.py up DIR       # build the fleet in DIR (run as root)
    python3 scripts/fleet.py status DIR   # what is running; exit 0 only when all of it is up
    python3 scripts/fleet.py down DIR     # remove everything up made; safe to repeat

Each host is a real Debian ``/usr/sbin/sshd`` in its own network namespace, UTS namespace
(hostname) and mount namespace (its own /home, /etc/sudoers.d, /etc/hosts), joined to the root
namespace by a veth pair on a Linux bridge. ``web3`` sits on a veth pair behind ``bast`` only, and
``unreachable`` routes in the root namespace keep the whole 10.77.0.0/16 on this machine (no
default route in any host namespace, no IP forwarding anywhere). The login user is a real,
non-root user with real sudo rules per host; the operator (``DIR/operator``) has an ssh-agent,
an ``~/.ssh/config``, a hashed ``known_hosts`` and key files. ``DIR/fleet.json`` describes it all.

Why a script and not only a fixture: a developer can build the same fleet by hand and poke at it
with ``ssh -F DIR/operator/.ssh/config web3``; the pytest fixture (tests/realfleet) runs this file.
Standard library only, so it runs with the system Python before orch is installed.

Everything ``up`` creates is first written to ``DIR/.fleet-state.json`` (intent before action), and
every name carries a tag derived from DIR, so ``down`` finds what a half-finished or killed ``up``
left, never touches another fleet's resources, and is a no-op when nothing is left.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve()
STATE_FILE = ".fleet-state.json"
NET16 = ipaddress.ip_network("10.77.0.0/16")
SSHD = "/usr/sbin/sshd"
ALT_PYTHON = "/opt/python/bin/python3"
UP_TIMEOUT = 20.0
HAPROXY = "/usr/sbin/haproxy"
CHECK_LOAD = "/usr/lib/nagios/plugins/check_load"
TOOLS = {  # tool -> Debian package (scripts/system-deps.sh installs them)
    "ip": "iproute2", "unshare": "util-linux", "mount": "mount", "sysctl": "procps",
    SSHD: "openssh-server", "ssh": "openssh-client", "ssh-keygen": "openssh-client",
    "ssh-agent": "openssh-client", "ssh-add": "openssh-client", "/usr/bin/sudo": "sudo",
    "visudo": "sudo", "useradd": "passwd", "usermod": "passwd", "userdel": "passwd",
    "chpasswd": "passwd", "/usr/bin/python3": "python3", HAPROXY: "haproxy",
    "/etc/init.d/haproxy": "haproxy", "start-stop-daemon": "dpkg",
    "/usr/share/base-files/dot.profile": "base-files",
    CHECK_LOAD: "monitoring-plugins-basic", "openssl": "openssl", "/usr/bin/su": "util-linux",
}


class FleetError(Exception):
    """A one-line reason the command cannot go on (printed without a traceback)."""


@dataclass(frozen=True)
class HostSpec:
    """One fleet host: how it is reached, which key it accepts, its sudo rule and its Python."""

    name: str
    octet: int
    port: int = 22
    via: str | None = None  # bastion alias; the host lives on the subnet behind it
    sudo: str = "none"  # none | nopasswd | password
    auth: str = "agent"  # agent | ssh_config_identity | inventory_key
    python: str = "/usr/bin/python3"
    own_system: bool = False  # its own /etc, /var/log, /usr/local/lib layers and its own /run
    role: str | None = None  # "app": app server (init script, NRPE, own package state); "lb"
    inner: bool = False  # also on the subnet behind the bastion (a second interface, eth1)


HOSTS = (
    HostSpec("bast", 10),
    HostSpec("web1", 11, sudo="nopasswd", own_system=True, role="app"),
    HostSpec("web2", 12, sudo="password"),
    HostSpec("web3", 13, via="bast", sudo="nopasswd", own_system=True, role="app"),
    HostSpec("web4", 14, sudo="nopasswd", auth="inventory_key", python=ALT_PYTHON,
             own_system=True, role="app"),
    HostSpec("web5", 15, port=2222, auth="ssh_config_identity"),
    HostSpec("lb1", 16, sudo="nopasswd", own_system=True, role="lb", inner=True),
)

APP_PORT = 8080  # every app server's HTTP port (on its own address)
FRONTEND_PORT = 80  # HAProxy's frontend on the load balancer
APP_SERVICE = "fleetapp"  # the app servers' SysV init script, /etc/init.d/fleetapp
BACKEND = "app"
APPSERVER = SCRIPT.parent.parent / "orch" / "lab" / "appserver.py"


# ---------------------------------------------------------------------------- names and state

def tag_for(fleet_dir: Path) -> str:
    """Six hex digits from the fleet folder's absolute path: every name and route carries it."""
    return hashlib.sha1(str(fleet_dir.resolve()).encode()).hexdigest()[:6]


@dataclass(frozen=True)
class Names:
    """Every kernel object and user name a fleet uses, derived from its tag alone."""

    tag: str

    @property
    def user(self) -> str:
        return f"fleetops-{self.tag}"

    @property
    def comment(self) -> str:
        return f"orch realistic fleet {self.tag}"

    @property
    def bridge(self) -> str:
        return f"flb{self.tag}"

    @property
    def netns_prefix(self) -> str:
        return f"fl-{self.tag}-"

    def netns(self, host: str) -> str:
        return f"{self.netns_prefix}{host}"

    def veth(self, index: int) -> str:
        return f"flv{self.tag}h{index}"

    @property
    def link_prefixes(self) -> tuple[str, ...]:
        return (self.bridge, f"flv{self.tag}")

    @property
    def metric(self) -> int:
        """Route metric of this fleet's unreachable routes: tells them apart from another's."""
        return int(self.tag, 16) + 1


class State:
    """``DIR/.fleet-state.json``: what up created (written before each step) and its settings."""

    def __init__(self, fleet_dir: Path):
        self.path = fleet_dir / STATE_FILE
        self.data: dict = {}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except ValueError as error:
                raise FleetError(f"{self.path}: not JSON ({error}); remove it by hand") from None

    def record(self, key: str, value) -> None:
        """Remember ``value`` (appended when ``key`` holds a list) and save at once."""
        if isinstance(self.data.get(key), list):
            if value not in self.data[key]:
                self.data[key].append(value)
        else:
            self.data[key] = value
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)


# ---------------------------------------------------------------------------- small helpers

def run(argv: list[str], input: str | None = None, check: bool = True,
        timeout: float = 30) -> subprocess.CompletedProcess:
    """Run argv (never through a shell); a failure raises FleetError naming the command."""
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise FleetError(f"{argv[0]}: not found") from None
    except subprocess.TimeoutExpired:
        raise FleetError(f"{' '.join(argv)}: timed out after {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        reason = (proc.stderr or proc.stdout).strip().splitlines()
        raise FleetError(f"{' '.join(argv)}: exit {proc.returncode}: "
                         f"{reason[-1] if reason else 'no output'}")
    return proc


def ip_json(*args: str) -> list:
    out = run(["ip", "-j", *args]).stdout.strip()
    return json.loads(out) if out else []


def write(path: Path, text: str, mode: int = 0o644, uid: int = -1, gid: int = -1) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    if uid >= 0:
        os.chown(path, uid, gid)
    return path


def keygen(path: Path, comment: str) -> str:
    """A fresh ed25519 key pair at ``path`` (no passphrase); returns the public key line."""
    for old in (path, path.with_name(path.name + ".pub")):
        old.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
    return path.with_name(path.name + ".pub").read_text().strip()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def terminate(pids: set[int], grace: float = 3.0) -> None:
    """SIGTERM, then SIGKILL whatever is still there after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
            time.sleep(0.05)
        pids = {pid for pid in pids if pid_alive(pid)}
        if not pids:
            return


def check_environment() -> None:
    """Root and every tool present, or a FleetError saying what to install."""
    if os.geteuid() != 0:
        raise FleetError(f"must run as root (network namespaces, users, sudo rules); "
                         f"running as uid {os.geteuid()}")
    missing = sorted({f"{tool} ({package})" for tool, package in TOOLS.items()
                      if not (Path(tool).exists() if tool.startswith("/") else shutil.which(tool))})
    if missing:
        raise FleetError("missing tools: " + ", ".join(missing)
                         + "; install them with: bash scripts/system-deps.sh")


def check_dir(fleet_dir: Path) -> None:
    if not re.fullmatch(r"[A-Za-z0-9._/+-]+", str(fleet_dir)):
        raise FleetError(f"{fleet_dir}: use a folder path of letters, digits and ._/+- only "
                         "(it goes into mount options and sshd_config)")
    if len(str(fleet_dir / "operator" / "agent.sock")) > 100:
        raise FleetError(f"{fleet_dir}: path too long for the agent's Unix socket")


# ---------------------------------------------------------------------------- addresses

def pick_block(metric: int) -> int:
    """The first even k whose 10.77.k.0/24 and 10.77.k+1.0/24 nothing on this machine uses."""
    routes = ip_json("route", "show", "table", "all")
    addresses = ip_json("addr", "show")
    used: list[ipaddress.IPv4Network] = []
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or ":" in dst:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False)
        if not net.overlaps(NET16):
            continue
        if net.prefixlen <= 16:
            if route.get("type") != "unreachable":
                raise FleetError(f"this machine routes {net} ({route.get('dev', 'no device')}): "
                                 "the fleet's 10.77.0.0/16 would collide with it")
            continue
        used.append(net)
    for link in addresses:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                used.append(ipaddress.ip_network(f"{info['local']}/32"))
    for k in range(0, 256, 2):
        block = ipaddress.ip_network(f"10.77.{k}.0/23")
        if not any(net.overlaps(block) for net in used):
            return k
    raise FleetError("no free 10.77.k.0/23 block left (stale fleets? see `ip route`)")


@dataclass(frozen=True)
class Plan:
    """Addresses of a fleet built on block k."""

    k: int

    @property
    def subnet(self) -> str:
        return f"10.77.{self.k}.0/24"

    @property
    def inner_subnet(self) -> str:
        return f"10.77.{self.k + 1}.0/24"

    @property
    def gateway(self) -> str:
        return f"10.77.{self.k}.1"

    @property
    def bastion_inner(self) -> str:
        return f"10.77.{self.k + 1}.1"

    def address(self, host: HostSpec) -> str:
        return f"10.77.{self.k + (1 if host.via else 0)}.{host.octet}"

    def inner_address(self, host: HostSpec) -> str:
        """A host on both subnets (``inner``): its address behind the bastion."""
        return f"10.77.{self.k + 1}.{host.octet}"


# ---------------------------------------------------------------------------- down

def down(fleet_dir: Path) -> list[str]:
    """Remove every process, namespace, link, route, user and file of this fleet; idempotent."""
    check_environment()
    fleet_dir = fleet_dir.resolve()
    names = Names(tag_for(fleet_dir))
    state = State(fleet_dir) if fleet_dir.is_dir() else None
    data = state.data if state else {}
    removed: list[str] = []

    netns = {entry["name"] for entry in ip_json("netns", "list")
             if entry["name"].startswith(names.netns_prefix)} | set(data.get("netns", []))
    pids: set[int] = set()
    for ns in netns:
        proc = run(["ip", "netns", "pids", ns], check=False)
        pids |= {int(pid) for pid in proc.stdout.split()}
    agent_socket = str(fleet_dir / "operator" / "agent.sock")
    for pid in data.get("pids", []):
        if pid_alive(pid) and str(fleet_dir) in cmdline(pid):
            pids.add(pid)
    for pid_dir in Path("/proc").glob("[0-9]*"):  # an agent whose pid the state lost
        if "ssh-agent" in cmdline(int(pid_dir.name)) and agent_socket in cmdline(int(pid_dir.name)):
            pids.add(int(pid_dir.name))
    pids.discard(os.getpid())
    if pids:
        terminate(pids)
        removed.append(f"{len(pids)} processes")
    for ns in sorted(netns):
        if run(["ip", "netns", "del", ns], check=False).returncode == 0:
            removed.append(f"netns {ns}")
    for link in ip_json("link", "show"):
        if link["ifname"].startswith(names.link_prefixes):
            run(["ip", "link", "del", link["ifname"]], check=False)
            removed.append(f"link {link['ifname']}")
    for route in ip_json("route", "show", "table", "main"):
        if route.get("type") == "unreachable" and route.get("metric") == names.metric:
            run(["ip", "route", "del", "unreachable", route["dst"], "metric", str(names.metric)],
                check=False)
            removed.append(f"route unreachable {route['dst']}")
    entry = run(["getent", "passwd", names.user], check=False).stdout.split(":")
    if len(entry) > 4 and entry[4] == names.comment:
        proc = run(["userdel", names.user], check=False)
        if proc.returncode != 0:
            run(["userdel", "-f", names.user], check=False)
        removed.append(f"user {names.user}")
    elif len(entry) > 4:
        print(f"fleet: user {names.user} exists but is not this fleet's "
              f"(comment {entry[4]!r}): left alone", file=sys.stderr)
    Path(f"/run/sudo/ts/{names.user}").unlink(missing_ok=True)
    if data.get("made_run_sshd") and Path("/run/sshd").is_dir():
        try:
            Path("/run/sshd").rmdir()
        except OSError:
            pass
    if fleet_dir.is_dir():
        for child in ("hosts", "operator", "fleet.json", "inventory.ini", "inventory-become.ini",
                      STATE_FILE, STATE_FILE.replace(".json", ".tmp")):
            path = fleet_dir / child
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        if data.get("made_dir"):
            try:
                fleet_dir.rmdir()
            except OSError:
                pass
    return removed


# ---------------------------------------------------------------------------- up

def sshd_config(host_dir: Path, spec: HostSpec, address: str, user: str, plan: Plan) -> str:
    return "\n".join([
        f"# {spec.name}: written by scripts/fleet.py",
        f"Port {spec.port}",
        f"ListenAddress {address}",
        f"HostKey {host_dir / 'ssh_host_ed25519_key'}",
        f"PidFile {host_dir / 'sshd.pid'}",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        f"PermitRootLogin {permit_root_login(spec)}",
        "UsePAM no",
        "StrictModes yes",
        "ExposeAuthInfo yes",
        f"AllowUsers {user}@{plan.subnet} {user}@{plan.inner_subnet}{root_allowed(spec, plan)}",
        "MaxStartups 100:30:200",
        "LogLevel VERBOSE",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "",
    ])


# ---------------------------------------------------------------------------- root's login

#: The host whose sshd keeps ``PermitRootLogin no`` (tests/trust/test_root_login.py: init
#: --root-login must refuse it); every other host has Debian's default, prohibit-password.
ROOT_LOGIN_REFUSED = "web3"
BASE_FILES = Path("/usr/share/base-files")  # Debian's root dot files (package base-files)


def permit_root_login(spec: HostSpec) -> str:
    return "no" if spec.name == ROOT_LOGIN_REFUSED else "prohibit-password"


def root_allowed(spec: HostSpec, plan: Plan) -> str:
    """root's AllowUsers entries (none where root may not log in)."""
    if spec.name == ROOT_LOGIN_REFUSED:
        return ""
    return f" root@{plan.subnet} root@{plan.inner_subnet}"


def root_home(host_dir: Path) -> list[str]:
    """The host's own /root (``DIR/hosts/<h>/root``, bind-mounted): root 0700 with Debian's
    .bashrc and .profile and an empty .ssh 0700, so no key logs in as root until ``orch host
    init --root-login`` writes one, and nothing ever touches this machine's /root."""
    home = host_dir / "root"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    for path in (home, home / ".ssh"):
        os.chown(path, 0, 0)
        os.chmod(path, 0o700)
    for name in ("bashrc", "profile"):
        write(home / f".{name}", (BASE_FILES / f"dot.{name}").read_text(), 0o644, 0, 0)
    return [str(home), "/root"]


def sudoers(spec: HostSpec, user: str) -> str | None:
    if spec.sudo == "nopasswd":
        return f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n"
    if spec.sudo == "password":  # asked every time, so tests see the prompt deterministically
        return f"Defaults:{user} timestamp_timeout=0\n{user} ALL=(ALL:ALL) ALL\n"
    return None


def host_files(fleet_dir: Path, spec: HostSpec, plan: Plan, names: Names, uid: int, gid: int,
               keys: dict[str, str]) -> dict:
    """The host's folder: sshd_config, host key, its /home, sudoers.d, /etc/hosts; its mounts."""
    host_dir = fleet_dir / "hosts" / spec.name
    host_dir.mkdir(parents=True, exist_ok=True)
    address = plan.address(spec)
    host_key = keygen(host_dir / "ssh_host_ed25519_key", f"root@{spec.name}")
    write(host_dir / "sshd_config", sshd_config(host_dir, spec, address, names.user, plan))
    home = host_dir / "home"
    user_home = home / names.user
    (user_home / ".ssh").mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o755)
    os.chmod(user_home, 0o755)
    os.chmod(user_home / ".ssh", 0o700)
    os.chown(user_home, uid, gid)
    os.chown(user_home / ".ssh", uid, gid)
    write(user_home / ".ssh" / "authorized_keys", keys[spec.auth] + "\n", 0o600, uid, gid)
    sudo_dir = host_dir / "sudoers.d"
    sudo_dir.mkdir(exist_ok=True)
    os.chmod(sudo_dir, 0o755)
    rule = sudoers(spec, names.user)
    if rule:
        path = write(sudo_dir / "fleet", rule, 0o440)
        run(["visudo", "-c", "-q", "-f", str(path)])
    write(host_dir / "hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{spec.name}\n"
                              f"::1\tlocalhost ip6-localhost ip6-loopback\n")
    write(host_dir / "hostname", spec.name + "\n")
    mounts = [[str(home), "/home"], [str(sudo_dir), "/etc/sudoers.d"],
              [str(host_dir / "hosts"), "/etc/hosts"], [str(host_dir / "hostname"), "/etc/hostname"],
              root_home(host_dir)]
    overlays, tmpfs, boot = [], [], []
    if spec.python != "/usr/bin/python3":
        overlays.append(hide_python(host_dir, spec))
        mounts.append([str(host_dir / "opt"), "/opt"])
    overlays += root_password_layer(fleet_dir, host_dir, spec)  # su hosts: their own /etc
    if spec.own_system:
        overlays += [own_layer(host_dir, target) for target in SYSTEM_LAYERS]
        tmpfs.append("/run")  # a fresh /run, as a booted host has: its own pidfiles and sockets
    if spec.role == "app":
        overlays += [own_layer(host_dir, target) for target in PACKAGE_LAYERS
                     if not (target == "/opt" and spec.python != "/usr/bin/python3")]
        app_files(host_dir, spec, plan)
        boot.append([f"/etc/init.d/{APP_SERVICE}", "start"])
    if spec.role == "lb":
        lb_files(host_dir, plan)
        boot.append(["/etc/init.d/haproxy", "start"])
    write(host_dir / "host.json", json.dumps({"name": spec.name, "mounts": mounts,
                                               "overlays": overlays, "tmpfs": tmpfs,
                                               "boot": boot}, indent=1))
    return {"address": address, "host_key": host_key}


#: Folders a host with ``own_system`` writes to its own layer (``orch host init`` makes /etc/orch,
#: /var/log/orch and /usr/local/lib/orch there, never on this machine).
SYSTEM_LAYERS = ("/etc", "/var/log", "/usr/local/lib")
#: And an app server's package state: dpkg's and apt's databases (/var/lib, /var/cache) and
#: where packages install (/usr/share, /opt), so installing on web1 installs nothing elsewhere.
PACKAGE_LAYERS = ("/var/lib", "/var/cache", "/usr/share", "/opt")


def in_layer(host_dir: Path, target: str, path: str) -> Path:
    """Where ``path`` (under the layer over ``target``) lives in the host's upper folder."""
    stem = target.strip("/").replace("/", "-")
    return host_dir / f"{stem}-upper" / Path(path).relative_to(target)


def put(host_dir: Path, target: str, path: str, text: str, mode: int = 0o644) -> None:
    """Install a file at ``path`` on the host (root-owned, folders 0755 like their packages)."""
    file = in_layer(host_dir, target, path)
    folder = file.parent
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(mode=0o755)
        os.chmod(made, 0o755)
    write(file, text, mode)


def app_command(spec: HostSpec, plan: Plan) -> list[str]:
    """The argv the init script starts the app server with (appmgr restarts the same argv)."""
    return [spec.python, f"/usr/local/lib/{APP_SERVICE}/appserver.py", "--name", spec.name,
            "--address", plan.address(spec), "--port", str(APP_PORT),
            "--revision-file", f"/var/lib/{APP_SERVICE}/revision",
            "--pidfile", f"/run/{APP_SERVICE}/app.pid",
            "--log", f"/var/log/{APP_SERVICE}/app.log"]


def init_script(spec: HostSpec, plan: Plan) -> str:
    """A SysV init script with LSB exit codes for the app server (Debian has no systemd here)."""
    argv = " ".join(app_command(spec, plan))
    probe = (f"{spec.python} -c 'import socket; "
             f"socket.create_connection((\"{plan.address(spec)}\", {APP_PORT}), 1)'")
    return f"""#!/bin/sh
### BEGIN INIT INFO
# Provides:          {APP_SERVICE}
# Required-Start:    $local_fs $network
# Required-Stop:     $local_fs $network
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: the fleet's app server (orch/lab/appserver.py)
### END INIT INFO
# Written by scripts/fleet.py for {spec.name}.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PIDFILE=/run/{APP_SERVICE}/app.pid
running() {{ [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }}
answers() {{ {probe} 2>/dev/null; }}
do_start() {{
    running && return 0
    mkdir -p /run/{APP_SERVICE} /var/log/{APP_SERVICE}
    {argv} </dev/null >/dev/null 2>&1 &
    for i in $(seq 150); do answers && return 0; sleep 0.1; done
    echo "{APP_SERVICE} did not come up (see /var/log/{APP_SERVICE}/app.log)" >&2; return 1
}}
do_stop() {{
    running || {{ rm -f "$PIDFILE"; return 0; }}
    kill "$(cat "$PIDFILE")"
    for i in $(seq 100); do running || {{ rm -f "$PIDFILE"; return 0; }}; sleep 0.1; done
    kill -9 "$(cat "$PIDFILE")" 2>/dev/null; rm -f "$PIDFILE"; return 0
}}
case "$1" in
    start) do_start ;;
    stop) do_stop ;;
    restart|force-reload) do_stop && do_start ;;
    status) running && exit 0; [ -e "$PIDFILE" ] && exit 1; exit 3 ;;
    *) echo "Usage: $0 {{start|stop|restart|force-reload|status}}" >&2; exit 2 ;;
esac
"""


def load_thresholds() -> tuple[str, str]:
    """check_load's -w/-c from this machine's cores (every fleet host shares its CPUs)."""
    cores = os.cpu_count() or 1
    warn, crit = 25 * cores, 50 * cores
    return f"{warn},{warn},{warn}", f"{crit},{crit},{crit}"


def app_files(host_dir: Path, spec: HostSpec, plan: Plan) -> None:
    """What an app server has installed: the app, its init script (enabled in rc2-5), its
    revision, and NRPE's config at NRPE's own path with a real check_load."""
    put(host_dir, "/usr/local/lib", f"/usr/local/lib/{APP_SERVICE}/appserver.py",
        APPSERVER.read_text())
    put(host_dir, "/etc", f"/etc/init.d/{APP_SERVICE}", init_script(spec, plan), 0o755)
    for level in (2, 3, 4, 5):
        link = in_layer(host_dir, "/etc", f"/etc/rc{level}.d/S01{APP_SERVICE}")
        link.parent.mkdir(mode=0o755, exist_ok=True)
        link.unlink(missing_ok=True)
        link.symlink_to(f"../init.d/{APP_SERVICE}")
    put(host_dir, "/var/lib", f"/var/lib/{APP_SERVICE}/revision", "1\n")
    warn, crit = load_thresholds()
    put(host_dir, "/etc", "/etc/nagios/nrpe.cfg",
        "# NRPE configuration of this host (written by scripts/fleet.py; thresholds from the\n"
        "# machine's cores: every fleet host shares its CPUs)\n"
        "server_port=5666\nnrpe_user=nagios\nnrpe_group=nagios\n"
        f"command[check_load]={CHECK_LOAD} -w {warn} -c {crit}\n"
        "include_dir=/etc/nagios/nrpe.d/\n")
    in_layer(host_dir, "/etc", "/etc/nagios/nrpe.d").mkdir(mode=0o755, exist_ok=True)


def haproxy_config(plan: Plan) -> str:
    """Debian's packaged haproxy.cfg (admin socket at /run/haproxy/admin.sock), plus the
    fleet's frontend and a backend with every app server, health-checked."""
    packaged = Path("/etc/haproxy/haproxy.cfg").read_text()
    if "stats socket /run/haproxy/admin.sock" not in packaged:
        raise FleetError("/etc/haproxy/haproxy.cfg has no 'stats socket /run/haproxy/admin.sock' "
                         "(not Debian's packaged file?): reinstall haproxy")
    lb = next(spec for spec in HOSTS if spec.role == "lb")
    servers = "".join(f"    server {spec.name} {plan.address(spec)}:{APP_PORT} "
                      "check inter 1s fall 3 rise 1\n" for spec in HOSTS if spec.role == "app")
    return (packaged.rstrip("\n") + "\n\n# The fleet's app cluster (scripts/fleet.py)\n"
            f"frontend www\n    bind {plan.address(lb)}:{FRONTEND_PORT}\n"
            f"    default_backend {BACKEND}\n\n"
            f"backend {BACKEND}\n    balance roundrobin\n    retries 3\n"
            f"    option redispatch\n{servers}")


def lb_files(host_dir: Path, plan: Plan) -> None:
    put(host_dir, "/etc", "/etc/haproxy/haproxy.cfg", haproxy_config(plan))


def own_layer(host_dir: Path, target: str) -> dict:
    """An overlay over ``target`` whose (empty) upper layer is in the host's folder."""
    stem = target.strip("/").replace("/", "-")
    upper, work = host_dir / f"{stem}-upper", host_dir / f"{stem}-work"
    for path in (upper, work):
        path.mkdir(exist_ok=True)
    info = os.stat(target)
    os.chown(upper, info.st_uid, info.st_gid)
    os.chmod(upper, info.st_mode & 0o7777)
    return {"lower": target, "upper": str(upper), "work": str(work), "target": target}


def hide_python(host_dir: Path, spec: HostSpec) -> dict:
    """An overlay for /usr/bin whiting out python3*, and a real interpreter at ``spec.python``.

    A copy of Debian's python3.11 binary finds its standard library through its compiled-in
    prefix (/usr), so it runs from /opt without /usr/bin/python3 existing at all.
    """
    upper, work = host_dir / "usr-bin-upper", host_dir / "usr-bin-work"
    for path in (upper, work):
        path.mkdir(exist_ok=True)
    for entry in Path("/usr/bin").iterdir():
        if re.fullmatch(r"python3(\.\d+)?", entry.name) and not (upper / entry.name).exists():
            os.mknod(upper / entry.name, 0o600 | 0o020000, os.makedev(0, 0))  # whiteout
    real = Path("/usr/bin/python3").resolve()
    target = host_dir / "opt" / Path(spec.python).relative_to("/opt")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(real, target)
    for path in [host_dir / "opt", *target.parents]:
        if path == host_dir:
            break
        os.chmod(path, 0o755)
    return {"lower": "/usr/bin", "upper": str(upper), "work": str(work), "target": "/usr/bin"}


# ---------------------------------------------------------------------------- su hosts

#: Hosts without a sudo rule whose root has a password (per fleet, in ROOT_PASSWORD_FILE): the
#: operator becomes root with ``su`` and that password, as on many Debian hosts (issue: become
#: method su with -K). The password is set in the host's own /etc (an overlay whose upper layer
#: holds a copy of /etc/shadow with root's hash replaced), never in this machine's.
SU_HOSTS = ("bast", "web5")
ROOT_PASSWORD_FILE = "operator/root-password"


def root_password(fleet_dir: Path) -> str:
    """This fleet's root password for the su hosts (made on first use, 0600 in the fleet)."""
    path = fleet_dir / ROOT_PASSWORD_FILE
    if not path.exists():
        write(path, secrets.token_urlsafe(18) + "\n", 0o600)
    return path.read_text().split("\n")[0]


def root_password_layer(fleet_dir: Path, host_dir: Path, spec: HostSpec) -> list[dict]:
    """For a host in SU_HOSTS: an overlay over /etc (its own layer even without
    ``own_system``) whose shadow gives root this fleet's password; [] for the others."""
    if spec.name not in SU_HOSTS or spec.sudo != "none":
        return []
    hashed = run(["openssl", "passwd", "-6", "-stdin"],  # the password on stdin, not in argv
                 input=root_password(fleet_dir) + "\n").stdout.strip()
    layer = own_layer(host_dir, "/etc")
    lines = Path("/etc/shadow").read_text().splitlines()  # taken after the login user exists
    shadow = "".join((f"root:{hashed}:" + line.split(":", 2)[2] if line.startswith("root:")
                      else line) + "\n" for line in lines)
    file = in_layer(host_dir, "/etc", "/etc/shadow")
    write(file, shadow, 0o640)
    info = os.stat("/etc/shadow")
    os.chown(file, info.st_uid, info.st_gid)
    return [layer]


def build_network(state: State, names: Names, plan: Plan) -> None:
    bridge = names.bridge
    state.record("links", bridge)
    run(["ip", "link", "add", bridge, "type", "bridge"])
    run(["sysctl", "-q", "-w", f"net.ipv6.conf.{bridge}.disable_ipv6=1"], check=False)
    run(["ip", "addr", "add", f"{plan.gateway}/24", "dev", bridge])
    run(["ip", "link", "set", bridge, "up"])
    metric = str(names.metric)
    for dst in (plan.inner_subnet, str(NET16)):
        state.record("routes", dst)
        run(["ip", "route", "add", "unreachable", dst, "metric", metric])
    for index, spec in enumerate(HOSTS):
        ns = names.netns(spec.name)
        state.record("netns", ns)
        run(["ip", "netns", "add", ns])
        run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0",
             "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        run(["ip", "-n", ns, "link", "set", "lo", "up"])
        if spec.via:
            continue
        veth = names.veth(index)
        state.record("links", veth)
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", veth, "master", bridge, "up"])
        run(["ip", "-n", ns, "addr", "add", f"{plan.address(spec)}/24", "dev", "eth0"])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    # The hidden subnet: a bridge in the bastion's namespace holding its inner address, with a
    # veth pair to each host behind it (eth0 there) and to each host on both subnets (eth1).
    # A bridge switches frames; nothing routes between the two subnets (ip_forward stays 0).
    bastion = names.netns(next(spec.via for spec in HOSTS if spec.via))
    run(["ip", "-n", bastion, "link", "add", "inner", "type", "bridge"])
    run(["ip", "-n", bastion, "addr", "add", f"{plan.bastion_inner}/24", "dev", "inner"])
    run(["ip", "-n", bastion, "link", "set", "inner", "up"])
    for spec in HOSTS:
        if not (spec.via or spec.inner):
            continue
        ns, device = names.netns(spec.name), "eth0" if spec.via else "eth1"
        address = plan.address(spec) if spec.via else plan.inner_address(spec)
        run(["ip", "-n", bastion, "link", "add", f"to-{spec.name}", "type", "veth",
             "peer", "name", device, "netns", ns])
        run(["ip", "-n", bastion, "link", "set", f"to-{spec.name}", "master", "inner", "up"])
        run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", device])
        run(["ip", "-n", ns, "link", "set", device, "up"])


def make_user(state: State, names: Names, password: str) -> tuple[int, int]:
    entry = run(["getent", "passwd", names.user], check=False).stdout.split(":")
    if len(entry) > 4 and entry[4] != names.comment:
        raise FleetError(f"user {names.user} already exists and is not this fleet's "
                         f"(comment {entry[4]!r})")
    if len(entry) <= 4:
        state.record("user", names.user)
        run(["useradd", "-M", "-d", f"/home/{names.user}", "-s", "/bin/bash",
             "-c", names.comment, names.user])
    run(["chpasswd"], input=f"{names.user}:{password}\n")  # also unlocks the account for sshd
    entry = run(["getent", "passwd", names.user]).stdout.split(":")
    return int(entry[2]), int(entry[3])


def start_hosts(fleet_dir: Path, state: State, names: Names) -> None:
    if not Path("/run/sshd").is_dir():
        state.record("made_run_sshd", True)
        Path("/run/sshd").mkdir(mode=0o755)
    for spec in HOSTS:
        host_dir = fleet_dir / "hosts" / spec.name
        log = open(host_dir / "sshd.log", "wb")
        proc = subprocess.Popen(
            ["ip", "netns", "exec", names.netns(spec.name), "unshare", "--uts", "--mount",
             "--propagation", "private", "--", sys.executable, str(SCRIPT), "_host",
             str(host_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        state.record("pids", proc.pid)
    deadline = time.monotonic() + UP_TIMEOUT  # hosts boot their services before sshd
    pending = {spec.name for spec in HOSTS}
    while pending:
        for name in sorted(pending):
            log = (fleet_dir / "hosts" / name / "sshd.log").read_text(errors="replace")
            if "Server listening on" in log:
                pending.discard(name)
            elif "fleet-host:" in log or (time.monotonic() > deadline):
                tail = log.strip().splitlines()[-1:] or ["no output"]
                raise FleetError(f"sshd of {name} did not start: {tail[0]} "
                                 f"(log: {fleet_dir / 'hosts' / name / 'sshd.log'})")
        time.sleep(0.05)


def host_main(host_dir: Path) -> None:
    """Inside the host's fresh UTS + mount namespaces: hostname, mounts, then exec sshd."""
    try:
        spec = json.loads((host_dir / "host.json").read_text())
        socket.sethostname(spec["name"])
        for overlay in spec.get("overlays") or []:
            run(["mount", "-t", "overlay", "overlay", "-o",
                 f"lowerdir={overlay['lower']},upperdir={overlay['upper']},"
                 f"workdir={overlay['work']}", overlay["target"]])
        for target in spec.get("tmpfs") or []:
            run(["mount", "-t", "tmpfs", "-o", "mode=0755,nosuid,nodev", "tmpfs", target])
            if target == "/run":  # what sshd (privilege separation) and lock users expect
                os.mkdir("/run/sshd", 0o755)
                os.mkdir("/run/lock", 0o1777)
                os.chmod("/run/lock", 0o1777)
        for source, target in spec["mounts"]:
            run(["mount", "--bind", source, target])
        for argv in spec.get("boot") or []:  # the host's services, as its init would start them
            with open(host_dir / "boot.log", "ab") as log:  # a file: daemons keep it open
                code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                      timeout=30, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                       "LANG": "C"}).returncode
            if code != 0:
                tail = (host_dir / "boot.log").read_text(errors="replace").strip().splitlines()
                raise FleetError(f"{' '.join(argv)}: exit {code}: "
                                 f"{tail[-1] if tail else 'no output'}")
    except (OSError, FleetError, ValueError, subprocess.TimeoutExpired) as error:
        print(f"fleet-host: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    os.execv(SSHD, [SSHD, "-D", "-e", "-f", str(host_dir / "sshd_config")])


def start_agent(state: State, operator: Path, key: Path) -> tuple[str, int]:
    """An ssh-agent on ``operator/agent.sock`` holding ``key``; the key file is deleted after."""
    sock = operator / "agent.sock"
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    state.record("pids", proc.pid)
    deadline = time.monotonic() + 5
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise FleetError(f"ssh-agent did not open {sock}")
        time.sleep(0.02)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSH_AUTH_SOCK": str(sock)}
    subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, capture_output=True,
                   timeout=10)
    key.unlink()  # the agent key now lives only in the agent
    return str(sock), proc.pid


def app_description(spec: HostSpec, plan: Plan) -> dict:
    """How the app runs on an app server (what its operator would put in host.json)."""
    command = app_command(spec, plan)
    return {"address": plan.address(spec), "port": APP_PORT, "command": command,
            "service": APP_SERVICE, "pidfile": command[command.index("--pidfile") + 1],
            "revision_file": command[command.index("--revision-file") + 1],
            "log": command[command.index("--log") + 1]}


def known_hosts_lines(hosts: dict, plan_hosts: list[HostSpec]) -> str:
    lines = []
    for spec in plan_hosts:
        info = hosts[spec.name]
        pattern = (f"{spec.name},{info['address']}" if spec.port == 22
                   else f"[{spec.name}]:{spec.port},[{info['address']}]:{spec.port}")
        lines.append(f"{pattern} {' '.join(info['host_key'].split()[:2])}")
    return "\n".join(lines) + "\n"


def ssh_config(hosts: dict, user: str, known_hosts: Path, config_key: Path) -> str:
    out = ["# orch realistic fleet: written by scripts/fleet.py. Use with",
           "#   HOME=<this folder's parent> SSH_AUTH_SOCK=<agent.sock> ssh -F <this file> web1",
           "# (OpenSSH expands ~ from the passwd entry, not $HOME: hence the absolute paths)", ""]
    for spec in HOSTS:
        info = hosts[spec.name]
        out += [f"Host {spec.name}", f"    HostName {info['address']}"]
        if spec.port != 22:
            out.append(f"    Port {spec.port}")
        if spec.via:
            out.append(f"    ProxyJump {spec.via}")
        if spec.auth == "ssh_config_identity":
            out.append(f"    IdentityFile {config_key}")
        out.append("")
    out += ["Host *", f"    User {user}", f"    UserKnownHostsFile {known_hosts}",
            "    ConnectTimeout 5", ""]
    return "\n".join(out)


def inventory(hosts: dict, inventory_key: Path, become: bool) -> str:
    out = ["# orch realistic fleet: host names are ~/.ssh/config aliases (HOME=operator folder);",
           "# HostName, User, Port, IdentityFile and ProxyJump come from that file.", "",
           "[bastions]", "bast", "", "[balancers]",
           *[spec.name for spec in HOSTS if spec.role == "lb"], "", "[web]"]
    for spec in HOSTS:
        if spec.name == "bast" or spec.role == "lb":
            continue
        line = spec.name
        if spec.auth == "inventory_key":
            line += f" ansible_ssh_private_key_file={inventory_key}"
        if spec.python != "/usr/bin/python3":
            line += f" ansible_python_interpreter={spec.python}"
        out.append(line)
    for mode in ("nopasswd", "password"):
        out += ["", f"[sudo_{mode}]", *[s.name for s in HOSTS if s.sudo == mode],
                "", f"[sudo_{mode}:vars]", "ansible_become_method=sudo", "ansible_become_user=root"]
        if become:
            out.append("ansible_become=True")  # a boolean to Ansible's INI parser
    return "\n".join(out) + "\n"


def up(fleet_dir: Path) -> dict:
    check_environment()
    check_dir(fleet_dir)
    started = time.monotonic()
    made_dir = not fleet_dir.exists()
    fleet_dir.mkdir(parents=True, exist_ok=True)
    fleet_dir = fleet_dir.resolve()
    if (fleet_dir / STATE_FILE).exists():
        down(fleet_dir)  # a previous fleet here (complete or not): start from nothing
        fleet_dir.mkdir(parents=True, exist_ok=True)
    names = Names(tag_for(fleet_dir))
    state = State(fleet_dir)
    state.data = {"tag": names.tag, "made_dir": made_dir, "complete": False,
                  "links": [], "netns": [], "routes": [], "pids": []}
    state.save()
    plan = Plan(pick_block(names.metric))
    state.record("k", plan.k)
    build_network(state, names, plan)

    operator = fleet_dir / "operator"
    ssh_dir = operator / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(operator, 0o700)
    os.chmod(ssh_dir, 0o700)
    password = secrets.token_urlsafe(18)
    password_file = write(operator / "sudo-password", password + "\n", 0o600)
    uid, gid = make_user(state, names, password)

    agent_key = operator / "agent-only_ed25519"
    config_key = ssh_dir / "id_web5"
    inventory_key = operator / "keys" / "web4_ed25519"
    keys = {"agent": keygen(agent_key, "fleet agent key"),
            "ssh_config_identity": keygen(config_key, "fleet ssh_config IdentityFile key"),
            "inventory_key": keygen(inventory_key, "fleet inventory key")}
    hosts = {spec.name: host_files(fleet_dir, spec, plan, names, uid, gid, keys)
             for spec in HOSTS}
    start_hosts(fleet_dir, state, names)
    agent_socket, agent_pid = start_agent(state, operator, agent_key)

    known_hosts = write(ssh_dir / "known_hosts", known_hosts_lines(hosts, list(HOSTS)), 0o600)
    run(["ssh-keygen", "-q", "-H", "-f", str(known_hosts)])
    Path(str(known_hosts) + ".old").unlink(missing_ok=True)  # the unhashed copy
    empty = write(ssh_dir / "known_hosts.empty", "", 0o600)
    config = write(ssh_dir / "config", ssh_config(hosts, names.user, known_hosts, config_key),
                   0o600)
    config_empty = write(ssh_dir / "config.empty-known-hosts",
                         ssh_config(hosts, names.user, empty, config_key), 0o600)
    inv = write(fleet_dir / "inventory.ini", inventory(hosts, inventory_key, False))
    inv_become = write(fleet_dir / "inventory-become.ini", inventory(hosts, inventory_key, True))

    description = {
        "version": 1,
        "dir": str(fleet_dir),
        "tag": names.tag,
        "subnet": plan.subnet,
        "inner_subnet": plan.inner_subnet,
        "gateway": plan.gateway,
        "bridge": names.bridge,
        "route_metric": names.metric,
        "login_user": names.user,
        "login_uid": uid,
        "operator": {
            "home": str(operator),
            "ssh_config": str(config),
            "ssh_config_empty_known_hosts": str(config_empty),
            "known_hosts": str(known_hosts),
            "known_hosts_empty": str(empty),
            "agent_socket": agent_socket,
            "agent_pid": agent_pid,
        },
        "keys": {
            "agent_public": keys["agent"],
            "ssh_config_identity": str(config_key),
            "inventory_key": str(inventory_key),
        },
        "sudo_password_file": str(password_file),
        "root_password_file": str(fleet_dir / ROOT_PASSWORD_FILE),
        "inventory": str(inv),
        "inventory_become": str(inv_become),
        "hosts": {
            spec.name: {
                "name": spec.name,
                "address": hosts[spec.name]["address"],
                "port": spec.port,
                "via": spec.via,
                "netns": names.netns(spec.name),
                "python": spec.python,
                "sudo": spec.sudo,
                "auth": spec.auth,
                "key_file": {"agent": None, "ssh_config_identity": str(config_key),
                             "inventory_key": str(inventory_key)}[spec.auth],
                "host_key": hosts[spec.name]["host_key"],
                "sshd_log": str(fleet_dir / "hosts" / spec.name / "sshd.log"),
                "home": str(fleet_dir / "hosts" / spec.name / "home" / names.user),
                "root_home": str(fleet_dir / "hosts" / spec.name / "root"),
                "permit_root_login": permit_root_login(spec),
                "own_system": spec.own_system,
                "role": spec.role,
                "root_password": spec.name in SU_HOSTS,
                **({"inner_address": plan.inner_address(spec)} if spec.inner else {}),
                **({"app": app_description(spec, plan)} if spec.role == "app" else {}),
            }
            for spec in HOSTS
        },
        "cluster": {
            "lb": next(spec.name for spec in HOSTS if spec.role == "lb"),
            "apps": [spec.name for spec in HOSTS if spec.role == "app"],
            "frontend": f"{plan.address(next(s for s in HOSTS if s.role == 'lb'))}:"
                        f"{FRONTEND_PORT}",
            "backend": BACKEND,
            "admin_socket": "/run/haproxy/admin.sock",
            "haproxy_config": "/etc/haproxy/haproxy.cfg",
            "service": APP_SERVICE,
            "nrpe_config": "/etc/nagios/nrpe.cfg",
        },
        "up_seconds": round(time.monotonic() - started, 2),
    }
    write(fleet_dir / "fleet.json", json.dumps(description, indent=2) + "\n")
    state.record("complete", True)
    return description


# ---------------------------------------------------------------------------- status

def status(fleet_dir: Path) -> tuple[bool, list[str]]:
    fleet_dir = fleet_dir.resolve()
    path = fleet_dir / "fleet.json"
    if not path.exists():
        return False, [f"no fleet in {fleet_dir} (no fleet.json)"]
    fleet = json.loads(path.read_text())
    netns = {entry["name"] for entry in ip_json("netns", "list")}
    lines, ok = [], True
    for name, host in fleet["hosts"].items():
        pids = run(["ip", "netns", "pids", host["netns"]], check=False).stdout.split() \
            if host["netns"] in netns else []
        config = str(fleet_dir / "hosts" / name / "sshd_config")
        sshd = [pid for pid in pids if "sshd" in cmdline(int(pid)) and config in cmdline(int(pid))]
        good = bool(sshd)
        ok &= good
        where = f"via {host['via']}" if host["via"] else "bridge"
        lines.append(f"{name:5} {host['address']}:{host['port']:<5} {where:9} sudo={host['sudo']:9}"
                     f" python={host['python']:24} {'up' if good else 'DOWN'}")
    agent = fleet["operator"]["agent_pid"]
    agent_ok = pid_alive(agent) and "ssh-agent" in cmdline(agent)
    ok &= agent_ok
    lines.append(f"agent {fleet['operator']['agent_socket']} {'up' if agent_ok else 'DOWN'}")
    return ok, lines


# ---------------------------------------------------------------------------- CLI

USAGE = "usage: python3 scripts/fleet.py {up|down|status} DIR"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "_host":
        host_main(Path(argv[1]))
        return 1
    if len(argv) != 2 or argv[0] not in ("up", "down", "status"):
        print(USAGE, file=sys.stderr)
        return 2
    command, fleet_dir = argv[0], Path(argv[1]).absolute()
    try:
        if command == "up":
            fleet = up(fleet_dir)
            print(f"fleet {fleet['tag']} up in {fleet['up_seconds']} s: {fleet_dir / 'fleet.json'}")
            print(f"try: HOME={fleet['operator']['home']} "
                  f"SSH_AUTH_SOCK={fleet['operator']['agent_socket']} "
                  f"ssh -F {fleet['operator']['ssh_config']} web3 hostname")
        elif command == "down":
            removed = down(fleet_dir)
            print("fleet down: " + (", ".join(removed) if removed else "nothing was left"))
        else:
            check_environment()
            ok, lines = status(fleet_dir)
            print("\n".join(lines))
            return 0 if ok else 1
    except FleetError as error:
        print(f"fleet {command}: {error}", file=sys.stderr)
        if command == "up":
            print(f"fleet up: remove what was made with: python3 {SCRIPT} down {fleet_dir}",
                  file=sys.stderr)
        return 2 if str(error).startswith(("must run as root", "missing tools")) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
