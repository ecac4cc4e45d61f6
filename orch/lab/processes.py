"""Processes the lab starts and stops: free ports, pidfiles, and finding what is ours.

The lab must stop exactly what it started and nothing else, including app servers that
``appmgr`` restarted later and the per-connection processes of its sshd. Two facts identify
a lab process: a pidfile in the lab folder whose process still names the lab folder in its
command line, or the ``ORCH_LAB_DIR=<lab>`` entry in its environment (sshd's ``SetEnv`` puts
it into every session, and the lab gives it to every service it starts).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import time
from pathlib import Path

MARKER = "ORCH_LAB_DIR"


def port_free(port: int, address: str = "0.0.0.0") -> bool:
    """True when nothing listens on ``address:port`` (binding 0.0.0.0 also catches 127.x.y.z).

    SO_REUSEADDR as the servers themselves set it: connections left in TIME_WAIT by a stopped
    lab do not make its port look taken.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((address, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, avoid: set[int] | None = None) -> int:
    """``preferred`` when it is free, else a port the kernel hands out that is not in ``avoid``."""
    avoid = avoid or set()
    if preferred and preferred not in avoid and port_free(preferred):
        return preferred
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("0.0.0.0", 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port
    raise OSError("no free TCP port found")


def read_pid(path: Path) -> int | None:
    """The pid in a pidfile, or None when the file is missing or not a number."""
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    """True when ``pid`` runs and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _environ_has(pid: int, entry: bytes) -> bool:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return entry in raw.split(b"\0")


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[-1].split()[1])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _ancestors(pid: int) -> set[int]:
    found = set()
    while pid and pid not in found:
        found.add(pid)
        pid = _ppid(pid) or 0
    return found


def pid_of(pidfile: Path, lab_dir: Path) -> int | None:
    """The live pid in ``pidfile`` when that process belongs to this lab, else None.

    A stale pidfile may name a pid the kernel has since given to someone else; the process
    counts as ours only when its command line or environment names the lab folder.
    """
    pid = read_pid(pidfile)
    if not alive(pid):
        return None
    if any(f"{lab_dir}/" in part for part in cmdline(pid)):
        return pid
    if _environ_has(pid, f"{MARKER}={lab_dir}".encode()):
        return pid
    return None


def lab_processes(lab_dir: Path, roots: list[int] = ()) -> list[int]:
    """Every live process of the lab: descendants of ``roots`` plus those carrying the marker."""
    me = _ancestors(os.getpid())
    entry = f"{MARKER}={lab_dir}".encode()
    pids = _all_pids()
    children: dict[int, list[int]] = {}
    for pid in pids:
        parent = _ppid(pid)
        if parent:
            children.setdefault(parent, []).append(pid)
    found: set[int] = set()
    stack = [pid for pid in roots if pid]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    found.update(pid for pid in pids if _environ_has(pid, entry))
    return sorted(pid for pid in found - me if alive(pid))


def terminate(pids: list[int], timeout: float = 5.0) -> list[int]:
    """SIGTERM each pid, wait up to ``timeout``, then SIGKILL the rest; returns what was signalled."""
    signalled = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
            signalled.append(pid)
        except OSError as error:
            if error.errno != errno.ESRCH:
                raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(pid) for pid in signalled):
        time.sleep(0.05)
    for pid in signalled:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and any(alive(pid) for pid in signalled):
        time.sleep(0.05)
    return signalled


def wait_for_port(address: str, port: int, timeout: float) -> bool:
    """True once a TCP connection to ``address:port`` succeeds within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1.0):
                return True
        except OSError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
