"""Shared fixtures. ``lab``: one real lab (sshd, HAProxy, app servers, webhook) per test session.

The lab runs in a temporary folder on free ports with its own ``orch.cfg`` in a temporary work
folder, so tests never touch the checkout's ``.lab`` or ``inventories/lab.yml``. Tests that use
it are marked ``@pytest.mark.lab``. Set ``ORCH_KEEP_LAB=1`` to keep the folders for a post-mortem.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from orch.lab.layout import topology

REPO = Path(__file__).resolve().parent.parent
LAB_APPS = 6
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # lab URLs never via a proxy


@dataclass
class OrchResult:
    """What an ``orch`` subprocess did: exit code and both streams as text."""

    code: int
    stdout: str
    stderr: str
    argv: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"orch {' '.join(self.argv)} -> exit {self.code}\n--- stdout\n{self.stdout}"
                f"--- stderr\n{self.stderr}")


def orch_command() -> list[str]:
    """The installed console script when the venv has one, else ``python -m orch``."""
    script = REPO / ".venv" / "bin" / "orch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "orch"]


def run_orch(argv, cwd: Path, check=None, timeout: float = 120, input: str | None = None,
             env: dict | None = None) -> OrchResult:
    """Run ``orch *argv`` in ``cwd`` without a terminal; ``check``: expected exit code (True = 0)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("ORCH_")}
    environ.update(env or {})
    argv = [str(arg) for arg in argv]
    proc = subprocess.run(orch_command() + argv, cwd=str(cwd), env=environ, input=input or "",
                          capture_output=True, text=True, timeout=timeout)
    result = OrchResult(proc.returncode, proc.stdout, proc.stderr, argv)
    if check is not None and check is not False:
        expected = 0 if check is True else int(check)
        assert result.code == expected, str(result)
    return result


@dataclass
class Lab:
    """A running lab and the paths and URLs tests check against."""

    dir: Path
    workdir: Path
    inventory: Path
    hosts: dict[str, str]  # name -> address
    settings: dict

    @property
    def port(self) -> int:
        return self.settings["port"]

    @property
    def user(self) -> str:
        return self.settings["user"]

    @property
    def client_key(self) -> Path:
        return self.dir / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def state_dir(self, name: str) -> Path:
        return self.dir / "hosts" / name

    @property
    def haproxy_socket(self) -> Path:
        return self.state_dir("lb1") / "haproxy.sock"

    @property
    def frontend_url(self) -> str:
        return f"http://{self.hosts['lb1']}:{self.settings['frontend_port']}/"

    def app_url(self, name: str) -> str:
        return f"http://{self.hosts[name]}:{self.settings['app_port']}/"

    @property
    def webhook_file(self) -> Path:
        return self.state_dir("notify1") / "received.jsonl"

    def audit_lines(self, name: str) -> list[str]:
        try:
            return (self.state_dir(name) / "audit.log").read_text().splitlines()
        except FileNotFoundError:
            return []

    def haproxy(self, command: str) -> str:
        """Send one command to HAProxy's runtime API (e.g. ``show servers state``)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(self.haproxy_socket))
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def http_get(self, url: str, timeout: float = 10) -> tuple[int, dict, str]:
        """(status, headers, body) of a GET, e.g. ``lab.http_get(lab.app_url("dev1"))``."""
        with DIRECT.open(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode()

    def post_json(self, url: str, document: dict, timeout: float = 10) -> tuple[int, str]:
        """(status, body) of a JSON POST, e.g. to the webhook."""
        request = urllib.request.Request(url, data=json.dumps(document).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with DIRECT.open(request, timeout=timeout) as response:
            return response.status, response.read().decode()

    def orch(self, *argv, check=None, timeout: float = 120, input: str | None = None,
             env: dict | None = None) -> OrchResult:
        """Run ``orch *argv`` in the lab's work folder (its orch.cfg), no terminal."""
        return run_orch(argv, self.workdir, check=check, timeout=timeout, input=input, env=env)


def write_orch_cfg(workdir: Path, lab_dir: Path, inventory: Path) -> Path:
    """orch.cfg with absolute paths to the lab's inventory, known_hosts, cache and journal."""
    path = workdir / "orch.cfg"
    path.write_text(
        "[defaults]\n"
        f"inventory = {inventory}\n"
        f"module_paths = {REPO / 'modules'}\n"
        f"fact_cache = sqlite:///{workdir / 'facts.db'}\n"
        f"journal = sqlite:///{workdir / 'journal.db'}\n"
        f"known_hosts = {lab_dir / 'known_hosts'}\n"
        f"lab_dir = {lab_dir}\n"
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def make_lab_dirs(prefix: str = "orch-lab-") -> tuple[Path, Path]:
    """A lab folder the lab's login user can enter (pytest's tmp_path is private to root)."""
    lab_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    lab_dir.chmod(0o755)
    workdir = Path(tempfile.mkdtemp(prefix=prefix + "work-", dir="/tmp"))
    return lab_dir, workdir


def start_lab(lab_dir: Path, workdir: Path, n: int = LAB_APPS, extra: tuple = ()) -> Lab:
    """``orch lab up`` for real, then read back what it chose."""
    inventory = workdir / "inventories" / "lab.yml"
    write_orch_cfg(workdir, lab_dir, inventory)
    result = None
    for _ in range(2):  # a port picked free can be taken by someone else before sshd binds it
        result = run_orch(["lab", "up", "-n", n, "--dir", lab_dir, "--port", free_port(),
                           "--inventory-out", inventory, "--json", *extra], workdir, timeout=180)
        if result.code == 0:
            break
        run_orch(["lab", "down", "--dir", lab_dir], workdir, timeout=60)
    assert result.code == 0, str(result)
    status = json.loads(result.stdout)
    hosts = {host.name: host.address for host in topology(n)}
    return Lab(dir=lab_dir, workdir=workdir, inventory=inventory, hosts=hosts,
               settings=status["settings"])


def stop_lab(lab_dir: Path, workdir: Path) -> None:
    run_orch(["lab", "down", "--dir", lab_dir], workdir, timeout=60)
    if not os.environ.get("ORCH_KEEP_LAB"):
        shutil.rmtree(lab_dir, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


def lab_prerequisites_missing() -> str | None:
    for path in ("/usr/sbin/sshd", "/usr/sbin/haproxy", "/usr/bin/python3", "/usr/bin/ssh-keygen"):
        if not os.path.exists(path):
            return f"{path} is missing (scripts/system-deps.sh installs it)"
    return None


@pytest.fixture(scope="session")
def lab():
    """A real lab for the whole session: lb1, notify1, dev1..dev6 (alfa dev1-3, bravo dev4-6)."""
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    lab_dir, workdir = make_lab_dirs()
    try:
        yield start_lab(lab_dir, workdir)
    finally:
        stop_lab(lab_dir, workdir)


@pytest.fixture
def private_lab():
    """Start labs a test may stop or rebuild: ``lab = private_lab(n=2)``; all stopped after."""
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    started = []

    def start(n: int = 2, extra: tuple = ()) -> Lab:
        lab_dir, workdir = make_lab_dirs("orch-lab-private-")
        started.append((lab_dir, workdir))
        return start_lab(lab_dir, workdir, n=n, extra=extra)

    try:
        yield start
    finally:
        for lab_dir, workdir in started:
            stop_lab(lab_dir, workdir)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """A real redis-server on a free loopback port, one per test module (fresh data)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/system-deps.sh installs it)")
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "no", "--unixsocket", str(folder / "redis.sock")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)
