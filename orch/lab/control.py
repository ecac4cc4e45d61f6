"""``up``, ``status`` and ``down``: the lab as a whole. Returns data; ``orch lab`` renders it."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import socket
import urllib.request
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from orch.errors import InputError, Where
from orch.lab import layout, processes, restricted, services, sshd
from orch.lab.layout import LabHost, LabSettings

DEFAULT_PORT = 2222
DEFAULT_N = 10
DEFAULT_MAX_APPS = 50
_SCRIPTS = ("appserver.py", "webhook.py")


@dataclass
class Service:
    """One thing the lab runs, as status reports it."""

    name: str
    host: str
    address: str
    pid: int | None
    detail: str = ""

    @property
    def running(self) -> bool:
        return self.pid is not None


@dataclass
class LabStatus:
    """What runs where; ``started`` lists what this call started (empty for a repeat ``up``)."""

    dir: str
    exists: bool
    settings: dict | None = None
    hosts: int = 0
    services: list[Service] = field(default_factory=list)
    apps_up: int = 0
    apps_total: int = 0
    apps_started_max: int = 0
    started: list[str] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return any(service.running for service in self.services)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["running"] = self.running
        return data


def _lab_path(lab_dir: str | Path) -> Path:
    return Path(lab_dir).expanduser().resolve()


def _check_reachable(lab_dir: Path, user: str) -> None:
    """As root, the login user must reach the lab folder: every parent must be traversable."""
    if not sshd.is_root():
        return
    for parent in [lab_dir, *lab_dir.parents]:
        if parent.exists() and not (parent.stat().st_mode & 0o001):
            raise InputError(f"user {user} cannot enter {parent} (mode "
                             f"{oct(parent.stat().st_mode & 0o777)}); put the lab elsewhere",
                             Where(path="--dir"))


@contextlib.contextmanager
def _locked(lab_dir: Path):
    """One ``up``/``down`` at a time per lab: two at once would race for the same ports."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with open(lab_dir / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(lab_dir: str | Path, n: int | None = None, port: int | None = None,
       inventory_out: str | Path | None = None, max_apps: int | None = None,
       restrict: str | None = None) -> LabStatus:
    """Make the lab's files and start whatever of it is not running; harmless when run twice.

    ``restrict``: ``"root"`` or ``"sudo"``, the restricted lab logging in that way
    (orch/lab/restricted.py); switching mode rebuilds the lab.

    A running lab with the same topology is left alone (only dead services are restarted);
    a different ``-n`` stops the old lab first and rebuilds it with the same keys.
    """
    lab_dir = _lab_path(lab_dir)
    if port is not None and not (0 < port < 65536):
        raise InputError(f"not a TCP port: {port}", Where(path="--port"))
    if n is not None:
        layout.topology(n)  # refuses bad sizes before anything is made
    if restrict:
        restricted.check_login(restrict)
    _check_reachable(lab_dir, sshd.login_user())
    with _locked(lab_dir):
        return _up(lab_dir, n, port, inventory_out, max_apps, restrict)


def _up(lab_dir: Path, n: int | None, port: int | None, inventory_out: str | Path | None,
        max_apps: int | None, restrict: str | None = None) -> LabStatus:
    previous = LabSettings.load(lab_dir)
    n = n if n is not None else (previous.n if previous else DEFAULT_N)
    if max_apps is None:  # kept while the topology stays, else back to the default
        max_apps = previous.max_apps if previous and previous.n == n else DEFAULT_MAX_APPS
    hosts = layout.topology(n)
    if restrict:  # restricted hosts are trusted new code through orchhost (orch host trust)
        hosts = [replace(host, agents=(*host.agents, "orchhost")) for host in hosts]
    if inventory_out is None and previous:
        inventory_out = previous.inventory
    if previous and (previous.n != n or previous.max_apps != max_apps
                     or (previous.restricted or None) != restrict
                     or (port and port != previous.port)):
        _down(lab_dir)
        if port and port != previous.port:
            previous = None
    if previous is None and sshd.pid(lab_dir):
        _down(lab_dir)  # an sshd without its lab.json: its port is unknown, start afresh
    user = sshd.login_user()
    lab_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.chmod(0o755)
    _check_reachable(lab_dir, user)
    if sshd.is_root():
        sshd.ensure_user(user)

    running_sshd = sshd.pid(lab_dir)
    if inventory_out is None:
        inventory_out = Path.cwd() / "inventories" / "lab.yml"
    inventory = Path(inventory_out).expanduser().resolve()
    settings = _choose_ports(previous, port, running_sshd, lab_dir, n, user, max_apps, inventory)
    settings.restricted = restrict or False

    host_pub, client_pub = sshd.ensure_keys(lab_dir)
    bin_dir = lab_dir / "bin"
    bin_dir.mkdir(exist_ok=True)
    for script in _SCRIPTS:
        shutil.copyfile(Path(__file__).with_name(script), bin_dir / script)
        (bin_dir / script).chmod(0o755)
    layout.write_hosts(lab_dir, hosts, settings, client_pub)
    services.chown_tree(lab_dir / "hosts", user)
    layout.write_known_hosts(lab_dir / "known_hosts", hosts, settings.port, host_pub)
    layout.write_inventories(settings, hosts)
    (lab_dir / "lab.json").write_text(settings.to_json())

    started = []
    if not running_sshd:
        root_login = restrict == "root"
        sshd.write_config(lab_dir, settings.port, user, client_pub, root_login)
        sshd.start(lab_dir, settings.port,
                   restricted.root_home(lab_dir) if root_login else None)
        started.append("sshd")
    lb, notify, apps = _roles(hosts)
    if not services.haproxy_pid(lab_dir, lb):
        services.start_haproxy(lab_dir, lb, apps, settings)
        started.append("haproxy")
    if not services.webhook_pid(lab_dir, notify):
        services.start_webhook(lab_dir, notify, settings)
        started.append("webhook")
    started += services.start_apps(lab_dir, apps[:max_apps], settings)
    services.wait_servers_up(lab_dir, lb, [app.name for app in apps[:max_apps]])
    if restrict:  # last: starting services gives their folders to the login user
        restricted.install(lab_dir, user, client_pub, restrict)
    result = status(lab_dir)
    result.started = started
    return result


def _choose_ports(previous: LabSettings | None, port: int | None, running_sshd: int | None,
                  lab_dir: Path, n: int, user: str, max_apps: int, inventory: Path) -> LabSettings:
    """Keep the ports a previous ``up`` chose (clients know them); pick free ones otherwise."""
    if previous:
        ports = [previous.port, previous.app_port, previous.frontend_port, previous.webhook_port]
        if not running_sshd and not status(lab_dir).running:
            # a stopped lab keeps its ports unless someone else took one meanwhile
            taken: set[int] = set()
            for i, old in enumerate(ports):
                ports[i] = old if processes.port_free(old) and old not in taken else (
                    processes.free_port(avoid=taken | set(ports)))
                taken.add(ports[i])
        return LabSettings(dir=str(lab_dir), n=n, port=ports[0], app_port=ports[1],
                           frontend_port=ports[2], webhook_port=ports[3], user=user,
                           max_apps=max_apps, inventory=str(inventory),
                           inventory_ini=str(inventory.with_suffix(".ini")))
    if port is not None and not processes.port_free(port):
        raise InputError(f"port {port} is in use", Where(path="--port"))
    ssh_port = port or processes.free_port(DEFAULT_PORT)
    taken = {ssh_port}
    ports = []
    # familiar ports for the default lab; with an explicit --port (tests, several labs side by
    # side) any free ones, so labs started at the same moment do not race for 8080
    for preferred in (8080, 8000, 8081) if port is None else (None, None, None):
        chosen = processes.free_port(preferred, avoid=taken)
        taken.add(chosen)
        ports.append(chosen)
    app_port, frontend_port, webhook_port = ports
    return LabSettings(dir=str(lab_dir), n=n, port=ssh_port, app_port=app_port,
                       frontend_port=frontend_port, webhook_port=webhook_port, user=user,
                       max_apps=max_apps, inventory=str(inventory),
                       inventory_ini=str(inventory.with_suffix(".ini")))


def _roles(hosts: list[LabHost]) -> tuple[LabHost, LabHost, list[LabHost]]:
    lb = next(host for host in hosts if host.role == "lb")
    notify = next(host for host in hosts if host.role == "notify")
    return lb, notify, [host for host in hosts if host.role == "app"]


def status(lab_dir: str | Path) -> LabStatus:
    """What of the lab in ``lab_dir`` runs, and where."""
    lab_dir = _lab_path(lab_dir)
    settings = LabSettings.load(lab_dir)
    if settings is None:
        return LabStatus(dir=str(lab_dir), exists=False)
    hosts = layout.topology(settings.n)
    lb, notify, apps = _roles(hosts)
    found = [
        Service("sshd", "*", f"0.0.0.0:{settings.port}", sshd.pid(lab_dir),
                f"{len(hosts)} host addresses, login {settings.login()}"),
        Service("haproxy", lb.name, f"{lb.address}:{settings.frontend_port}",
                services.haproxy_pid(lab_dir, lb),
                f"backend app ({_backend_summary(lab_dir, lb, len(apps))}), socket "
                f"{layout.state_dir(lab_dir, lb.name) / 'haproxy.sock'}"),
        Service("webhook", notify.name, f"{notify.address}:{settings.webhook_port}",
                services.webhook_pid(lab_dir, notify),
                str(layout.state_dir(lab_dir, notify.name) / "received.jsonl")),
    ]
    up_count = 0
    for host in apps:
        pid = services.app_pid(lab_dir, host)
        if pid:
            up_count += 1
            found.append(Service("app", host.name, f"{host.address}:{settings.app_port}", pid,
                                 _revision(host, settings.app_port)))
    return LabStatus(dir=str(lab_dir), exists=True, settings=_settings_dict(settings),
                     hosts=len(hosts), services=found, apps_up=up_count, apps_total=len(apps),
                     apps_started_max=settings.max_apps)


def _backend_summary(lab_dir: Path, lb: LabHost, total: int) -> str:
    """``10 servers, 2 in maintenance (dev2, dev4)`` from HAProxy itself, when it answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(str(layout.state_dir(lab_dir, lb.name) / "haproxy.sock"))
            sock.sendall(b"show servers state app\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return f"{total} servers"
    rows = [line.split() for line in b"".join(chunks).decode().splitlines()[1:]
            if line and not line.startswith("#")]
    # columns: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
    maint = [row[3] for row in rows if len(row) > 6 and row[6] != "0"]
    text = f"{len(rows)} servers"
    if maint:
        text += f", {len(maint)} in maintenance ({', '.join(maint[:8])}{', …' if len(maint) > 8 else ''})"
    return text


def _settings_dict(settings: LabSettings) -> dict:
    return {**asdict(settings), "login": settings.login()}


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _revision(host: LabHost, port: int) -> str:
    """What the app answers (the truth), not what its revision file says."""
    try:
        with _DIRECT.open(f"http://{host.address}:{port}/", timeout=2) as response:
            return "revision " + response.read(100).decode(errors="replace").strip()
    except OSError:
        return "not answering"


def down(lab_dir: str | Path) -> list[int]:
    """Stop every process of the lab in ``lab_dir`` (pidfiles, sshd's sessions, marked ones).

    Returns the pids it signalled. Files stay, so a later ``up`` reuses keys and ports.
    """
    lab_dir = _lab_path(lab_dir)
    if not lab_dir.exists():
        return []
    with _locked(lab_dir):
        return _down(lab_dir)


def _down(lab_dir: Path) -> list[int]:
    settings = LabSettings.load(lab_dir)
    roots = []
    sshd_pid = sshd.pid(lab_dir)
    if sshd_pid:
        roots.append(sshd_pid)
    if settings:
        hosts = layout.topology(settings.n)
        lb, notify, apps = _roles(hosts)
        roots += [services.haproxy_pid(lab_dir, lb), services.webhook_pid(lab_dir, notify)]
        roots += [services.app_pid(lab_dir, host) for host in apps]
    # find sshd's per-connection processes while they are still its children, then stop the
    # listener first so no new session starts while the rest stop
    pids = processes.lab_processes(lab_dir, [pid for pid in roots if pid])
    restricted.remove(lab_dir)
    if sshd_pid:
        processes.terminate([sshd_pid])
    stopped = processes.terminate([pid for pid in pids if pid != sshd_pid])
    stopped += processes.terminate(processes.lab_processes(lab_dir))
    return sorted(set(stopped) | ({sshd_pid} if sshd_pid else set()))
