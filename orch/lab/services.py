"""The services behind the lab's modules: HAProxy on lb1, app servers, the webhook on notify1.

Each runs as the lab's login user (so the modules, which run as that user, can drive and
restart them), detached in its own session, with ``ORCH_LAB_DIR`` in its environment and a
pidfile in its host's state folder: that is how ``down`` finds it again, even after ``appmgr``
restarted it.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

from orch.lab import processes
from orch.lab.layout import REMOTE_PYTHON, LabHost, LabSettings, app_command, state_dir
from orch.lab.sshd import LabError, is_root

HAPROXY = "/usr/sbin/haproxy"


def _spawn(argv: list[str], lab_dir: Path, user: str, log: Path | None = None) -> subprocess.Popen:
    """Start ``argv`` detached, as ``user`` when we are root, marked as a lab process."""
    account = pwd.getpwnam(user)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": account.pw_dir,
           "USER": user, "LANG": "C.UTF-8", processes.MARKER: str(lab_dir)}
    extra = {}
    if is_root() and account.pw_uid != 0:
        extra = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(argv, env=env, cwd=str(lab_dir), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                close_fds=True, **extra)
    finally:
        if log:
            out.close()


def chown_tree(path: Path, user: str) -> None:
    """Give the login user the state folders (its modules write audit logs, pidfiles, ...)."""
    if not is_root():
        return
    account = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.lchown(root, account.pw_uid, account.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), account.pw_uid, account.pw_gid)


def _wait_for_pid(read_pid, what: str, state: Path, timeout: float = 5.0) -> int:
    """The pid a daemon writes to its pidfile once it runs (it may lag its listening socket)."""
    deadline = time.monotonic() + timeout
    while True:
        pid = read_pid()
        if pid:
            return pid
        if time.monotonic() > deadline:
            raise LabError(f"{what} wrote no pidfile in {state}")
        time.sleep(0.05)


# --- HAProxy -------------------------------------------------------------------------------

def haproxy_config(lb: LabHost, apps: list[LabHost], settings: LabSettings, lab_dir: Path) -> str:
    """Frontend on lb1, backend ``app`` with every app server, admin socket in lb1's state."""
    state = state_dir(lab_dir, lb.name)
    servers = "\n".join(f"    server {host.name} {host.address}:{settings.app_port}"
                        for host in apps)
    return f"""# HAProxy for the orch lab in {lab_dir} (written by 'orch lab up')
global
    stats socket {state}/haproxy.sock mode 660 level admin
    stats timeout 30s
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
    # A request whose server refused the connection, closed it without an answer or did not
    # answer in time is sent again, to another server (redispatch on every retry): with these
    # three lines a server killed under load loses no request (tests/faults/test_load.py).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend www
    bind {lb.address}:{settings.frontend_port}
    default_backend app

backend app
    balance roundrobin
    # Only GET/HEAD are retried once they reached a server: a POST may have had its effect.
    http-request disable-l7-retry if !METH_GET
    # A dead server is marked DOWN by its check (what the operator sees in 'show servers
    # state' and haproxy.status) and gets no traffic: 2 misses in a row (0.5 s apart once one
    # failed), so a busy 2-core box does not flap it; back UP after 2 answers. Every 2 s, so a
    # lab of 200 app servers costs 100 small requests a second, not more.
    option httpchk GET /
    http-check expect status 200
    default-server check inter 2s fastinter 500ms downinter 1s fall 2 rise 2
{servers}
"""


def haproxy_pid(lab_dir: Path, lb: LabHost) -> int | None:
    return processes.pid_of(state_dir(lab_dir, lb.name) / "haproxy.pid", lab_dir)


def start_haproxy(lab_dir: Path, lb: LabHost, apps: list[LabHost], settings: LabSettings) -> int:
    state = state_dir(lab_dir, lb.name)
    config = state / "haproxy.cfg"
    config.write_text(haproxy_config(lb, apps, settings, lab_dir))
    chown_tree(state, settings.user)
    check = subprocess.run([HAPROXY, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise LabError(f"{config}: haproxy rejects it: {(check.stderr or check.stdout).strip()}")
    log = state / "haproxy.log"
    proc = _spawn([HAPROXY, "-f", str(config), "-D", "-p", str(state / "haproxy.pid")],
                  lab_dir, settings.user, log)
    if proc.wait(timeout=30) != 0:
        raise LabError(f"haproxy did not start (see {log})")
    if not processes.wait_for_port(lb.address, settings.frontend_port, timeout=10):
        raise LabError(f"haproxy does not listen on {lb.address}:{settings.frontend_port}")
    return _wait_for_pid(lambda: haproxy_pid(lab_dir, lb), "haproxy", state)


def wait_servers_up(lab_dir: Path, lb: LabHost, names: list[str], timeout: float = 30.0) -> None:
    """Wait until HAProxy's health checks see every server in ``names`` UP: it starts them
    DOWN, and a lab is ready only when the frontend would send each one traffic."""
    import socket

    path = str(state_dir(lab_dir, lb.name) / "haproxy.sock")
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(path)
                sock.sendall(b"show servers state app\n")
                text = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        except OSError:
            text = ""
        lines = text.splitlines()
        columns = next((line.lstrip("# ").split() for line in lines if line.startswith("#")), [])
        for line in lines:
            fields = line.split()
            if columns and len(fields) == len(columns) and not line.startswith("#"):
                row = dict(zip(columns, fields, strict=True))
                if row["srv_op_state"] == "2":
                    waiting.discard(row["srv_name"])
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise LabError(f"HAProxy's health check does not see {', '.join(sorted(waiting))} "
                           f"UP after {timeout:g} s (see {state_dir(lab_dir, lb.name)})")
        time.sleep(0.2)


# --- app servers ---------------------------------------------------------------------------

def app_pid(lab_dir: Path, host: LabHost) -> int | None:
    return processes.pid_of(state_dir(lab_dir, host.name) / "app" / "app.pid", lab_dir)


def start_apps(lab_dir: Path, hosts: list[LabHost], settings: LabSettings,
               timeout: float = 60.0) -> list[str]:
    """Start each app not yet running, then wait until every one answers; returns the started."""
    started = []
    for host in hosts:
        if app_pid(lab_dir, host):
            continue
        _spawn(app_command(lab_dir, host, settings), lab_dir, settings.user)
        started.append(host)
    deadline = time.monotonic() + timeout
    for host in started:
        left = max(0.5, deadline - time.monotonic())
        if not processes.wait_for_port(host.address, settings.app_port, timeout=left):
            log = state_dir(lab_dir, host.name) / "app" / "app.log"
            raise LabError(f"app server on {host.name} does not answer (see {log})")
    return [host.name for host in started]


# --- webhook -------------------------------------------------------------------------------

def webhook_pid(lab_dir: Path, notify: LabHost) -> int | None:
    return processes.pid_of(state_dir(lab_dir, notify.name) / "webhook.pid", lab_dir)


def start_webhook(lab_dir: Path, notify: LabHost, settings: LabSettings) -> int:
    state = state_dir(lab_dir, notify.name)
    argv = [REMOTE_PYTHON, str(lab_dir / "bin" / "webhook.py"), "--address", notify.address,
            "--port", str(settings.webhook_port), "--out", str(state / "received.jsonl"),
            "--pidfile", str(state / "webhook.pid"), "--log", str(state / "webhook.log")]
    _spawn(argv, lab_dir, settings.user)
    if not processes.wait_for_port(notify.address, settings.webhook_port, timeout=10):
        raise LabError(f"webhook on {notify.name} does not answer (see {state}/webhook.log)")
    return _wait_for_pid(lambda: webhook_pid(lab_dir, notify), "webhook", state)
