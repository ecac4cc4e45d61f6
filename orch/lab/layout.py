"""What a lab is made of: its hosts, their addresses, and the files describing them.

Pure data and file writing, no processes: the topology (lb1, notify1, dev1..devN on loopback
addresses), each host's state folder (``host.json``, ``callers``, ``nrpe.cfg``, ``policy/``,
``app/revision``), the ``addr/<ip>`` symlinks the runtime resolves its host by, and the
inventories (YAML, plus an INI twin real ``ansible`` can read) and known_hosts that point
clients at the lab.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from orch.errors import InputError, Where

INITIAL_REVISION = 19
HOSTS_PER_NET = 250
REMOTE_PYTHON = "/usr/bin/python3"
INVENTORY_MARK = "written by 'orch lab up'"
CHECK_LOAD = "/usr/lib/nagios/plugins/check_load"


@dataclass(frozen=True)
class LabHost:
    """One lab host: where it listens and what it claims to be."""

    name: str
    address: str
    role: str  # lb | notify | app
    classes: tuple[str, ...]
    agents: tuple[str, ...]
    facts: dict = field(default_factory=dict, compare=False)


@dataclass
class LabSettings:
    """Everything ``up`` decided, saved as ``<lab>/lab.json`` so status and down can read it."""

    dir: str
    n: int
    port: int
    app_port: int
    frontend_port: int
    webhook_port: int
    user: str
    max_apps: int
    inventory: str
    inventory_ini: str
    #: ``False`` (open), or how a restricted lab logs in (orch/lab/restricted.py): ``"root"``
    #: (the orch key is root's, with the gate as forced command) or ``"sudo"`` (the login
    #: user's, the gate escalating with sudo); ``True`` in older lab.json files means sudo.
    restricted: bool | str = False

    def login(self) -> str:
        """Who the inventory logs in as: root in a root-login restricted lab, else the user."""
        return "root" if self.restricted == "root" else self.user

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def load(cls, lab_dir: Path) -> LabSettings | None:
        path = Path(lab_dir) / "lab.json"
        try:
            data = json.loads(path.read_text())
            if data.get("restricted") is True:
                data["restricted"] = "sudo"
            return cls(**data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as error:
            raise InputError(f"not a lab description: {error}", Where(str(path))) from None


def address(index: int) -> str:
    """The ``index``-th lab address (0-based): 127.0.1.1 … 127.0.1.250, then 127.0.2.1 …"""
    net, host = divmod(index, HOSTS_PER_NET)
    if net + 1 > 255:
        raise InputError("too many lab hosts for 127.0.x.y addresses", Where(path="-n"))
    return f"127.0.{net + 1}.{host + 1}"


def topology(n: int) -> list[LabHost]:
    """lb1, notify1, then dev1..devN; the first half of the devs is cluster alfa, the rest bravo."""
    if n < 1:
        raise InputError(f"need at least one app server, got {n}", Where(path="-n"))
    # Only what the lab itself decides: the operating system's facts (os.*, kernel, ...) come
    # from the machine through rpcutil.inventory's system facts, as on a real host; fake ones
    # here would win over them (inventory facts rank above gathered ones).
    common = {"datacenter": "lab"}
    hosts = [
        LabHost("lb1", address(0), "lb", ("haproxy",), ("rpcutil", "haproxy"),
                {**common, "role": "lb"}),
        LabHost("notify1", address(1), "notify", ("notify",), ("rpcutil", "angelianotify"),
                {**common, "role": "notify"}),
    ]
    alfa = (n + 1) // 2
    for i in range(1, n + 1):
        cluster = "alfa" if i <= alfa else "bravo"
        hosts.append(LabHost(f"dev{i}", address(i + 1), "app", ("web",),
                             ("rpcutil", "appmgr", "nrpe"),
                             {**common, "role": "app", "cluster": cluster}))
    return hosts


def state_dir(lab_dir: Path, name: str) -> Path:
    return Path(lab_dir) / "hosts" / name


def app_command(lab_dir: Path, host: LabHost, settings: LabSettings) -> list[str]:
    """argv that starts ``host``'s app service; ``appmgr`` runs the same to restart it."""
    app = state_dir(lab_dir, host.name) / "app"
    return [REMOTE_PYTHON, str(Path(lab_dir) / "bin" / "appserver.py"),
            "--name", host.name, "--address", host.address, "--port", str(settings.app_port),
            "--revision-file", str(app / "revision"), "--pidfile", str(app / "app.pid"),
            "--log", str(app / "app.log")]


def load_thresholds(cores: int | None = None) -> tuple[str, str]:
    """check_load's -w/-c from this machine's cores: every lab host shares its CPUs."""
    cores = cores or os.cpu_count() or 1
    # Generous: a 200-host run alone pushed the load past 15 on 2 cores. Tests that need a
    # failing check write one on purpose rather than waiting for load.
    warn, crit = 25 * cores, 50 * cores
    return f"{warn},{warn},{warn}", f"{crit},{crit},{crit}"


def host_config(lab_dir: Path, host: LabHost, settings: LabSettings,
                notify: LabHost) -> dict:
    """Per-module settings for ``host.json``'s ``config`` (docs/INTERNALS.md)."""
    state = state_dir(lab_dir, host.name)
    config: dict = {"nrpe": {"config": str(state / "nrpe.cfg")},
                    "angelianotify": {"url": f"http://{notify.address}:{settings.webhook_port}/"}}
    if host.role == "lb":
        config["haproxy"] = {"socket": str(state / "haproxy.sock"), "backend": "app",
                             "config": str(state / "haproxy.cfg")}
    if host.role == "app":
        app = state / "app"
        config["appmgr"] = {"address": host.address, "port": settings.app_port,
                            "command": app_command(lab_dir, host, settings),
                            "pidfile": str(app / "app.pid"),
                            "revision_file": str(app / "revision"),
                            "log": str(app / "app.log"), "url": f"http://{host.address}:{settings.app_port}/"}
    if host.role == "notify":
        config["webhook"] = {"file": str(state / "received.jsonl"),
                             "url": f"http://{host.address}:{settings.webhook_port}/"}
    return config


def write_hosts(lab_dir: Path, hosts: list[LabHost], settings: LabSettings,
                client_public_key: str) -> None:
    """Create every host's state folder and ``addr/<ip>`` link; keeps audit logs and revisions."""
    lab_dir = Path(lab_dir)
    key_type, key_data = client_public_key.split()[:2]
    notify = next(host for host in hosts if host.role == "notify")
    warn, crit = load_thresholds()
    addr_dir = lab_dir / "addr"
    addr_dir.mkdir(exist_ok=True)
    wanted_links = set()
    for host in hosts:
        state = state_dir(lab_dir, host.name)
        (state / "policy").mkdir(parents=True, exist_ok=True)
        document = {"name": host.name, "address": host.address, "facts": host.facts,
                    "classes": list(host.classes), "agents": list(host.agents),
                    "config": host_config(lab_dir, host, settings, notify)}
        _write(state / "host.json", json.dumps(document, indent=2, sort_keys=True) + "\n")
        _write(state / "callers", f"{key_type} {key_data} labadmin\n")
        _write(state / "nrpe.cfg",
               "# NRPE-style commands for this lab host (thresholds from this machine's cores)\n"
               f"command[check_load]={CHECK_LOAD} -w {warn} -c {crit}\n")
        if host.role == "app":
            (state / "app").mkdir(exist_ok=True)
            revision = state / "app" / "revision"
            if not revision.exists():
                _write(revision, f"{INITIAL_REVISION}\n")
        link = addr_dir / host.address
        wanted_links.add(host.address)
        target = Path("..") / "hosts" / host.name
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    for link in addr_dir.iterdir():
        if link.name not in wanted_links:
            link.unlink()
    wanted = {host.name for host in hosts}
    for folder in (lab_dir / "hosts").iterdir():  # hosts of a bigger lab that was shrunk
        if folder.name not in wanted and (folder / "host.json").exists():
            shutil.rmtree(folder)


def _write(path: Path, text: str) -> None:
    """Write only when the content changes, so a second ``up`` leaves files alone."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_known_hosts(path: Path, hosts: list[LabHost], port: int, host_public_key: str) -> None:
    """One ``[addr]:port key`` line per host, readable by orch, OpenSSH and ansible."""
    key = " ".join(host_public_key.split()[:2])
    _write(Path(path), "".join(f"[{host.address}]:{port} {key}\n" for host in hosts))


def _host_vars(host: LabHost, settings: LabSettings, key_file: str) -> dict:
    return {"ansible_host": host.address, "ansible_port": settings.port,
            "ansible_user": settings.login(), "ansible_ssh_private_key_file": key_file,
            "classes": list(host.classes), "agents": list(host.agents), "facts": host.facts}


class _NoAliases(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Hosts share fact dicts; spell each out rather than ``&id001`` anchors."""

    def ignore_aliases(self, data) -> bool:
        return True


def _check_ours(path: Path) -> None:
    """Refuse to overwrite an inventory the lab did not write."""
    if path.exists():
        try:
            head = path.read_text().splitlines()[:2]
        except OSError:
            head = []
        if not any(INVENTORY_MARK in line for line in head):
            raise InputError("exists and was not written by 'orch lab up'; "
                             "pick another --inventory-out", Where(str(path)))


def write_inventories(settings: LabSettings, hosts: list[LabHost]) -> None:
    """``lab.yml`` (orch's keys included) and its Ansible INI twin."""
    lab_dir = Path(settings.dir)
    key_file = str(lab_dir / "client_key")
    known_hosts = str(lab_dir / "known_hosts")
    yml, ini = Path(settings.inventory), Path(settings.inventory_ini)
    for path in (yml, ini):
        _check_ours(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    ssh_args = f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
    groups: dict[str, list[LabHost]] = {"haproxy": [], "notify": [], "alfa": [], "bravo": []}
    for host in hosts:
        groups[host.facts.get("cluster") or host.role.replace("lb", "haproxy")].append(host)

    def hosts_of(name):
        return {host.name: _host_vars(host, settings, key_file) for host in groups[name]}

    document = {"all": {
        "vars": {"ansible_python_interpreter": REMOTE_PYTHON, "ansible_ssh_common_args": ssh_args},
        "children": {
            "haproxy": {"hosts": hosts_of("haproxy")},
            "notify": {"hosts": hosts_of("notify")},
            "web": {"children": {"alfa": {"hosts": hosts_of("alfa")},
                                 "bravo": {"hosts": hosts_of("bravo")}}},
        }}}
    header = (f"# Lab inventory {INVENTORY_MARK} for {lab_dir}; rewritten by every 'up'.\n"
              f"# {len(hosts)} hosts on one sshd at port {settings.port}.\n")
    _write(yml, header + yaml.dump(document, Dumper=_NoAliases, sort_keys=False,
                                   default_flow_style=False, width=200))

    def ini_line(host: LabHost) -> str:
        host_vars = _host_vars(host, settings, key_file)
        parts = [host.name]
        for key, value in host_vars.items():
            if isinstance(value, list | dict):
                parts.append(f"{key}='{json.dumps(value, separators=(',', ':'))}'")
            else:
                parts.append(f"{key}={value}")
        return " ".join(parts)

    lines = [f"# Lab inventory (Ansible INI) {INVENTORY_MARK} for {lab_dir}.",
             f"# ansible -i {ini} all -m ping   (known_hosts and key are set below)", "",
             "[all:vars]", f"ansible_python_interpreter={REMOTE_PYTHON}",
             f"ansible_ssh_common_args='{ssh_args}'", ""]
    for name in ("haproxy", "notify", "alfa", "bravo"):
        lines.append(f"[{name}]")
        lines.extend(ini_line(host) for host in groups[name])
        lines.append("")
    lines += ["[web:children]", "alfa", "bravo", ""]
    _write(ini, "\n".join(lines))
