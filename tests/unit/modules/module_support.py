"""Helpers for the fleet modules' unit tests: load a module file as the runtime does, and a
small stand-in for the runtime's request object (the only stand-in; everything the modules
talk to in these tests is real: HAProxy, check_load, an HTTP app server, a webhook receiver).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[3]
MODULES = REPO / "modules"
HAPROXY = "/usr/sbin/haproxy"
APPSERVER = REPO / "orch" / "lab" / "appserver.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Aborted(Exception):
    """Raised by the stand-in's ``abort``: the reply would have status Aborted."""


class StandInRequest:
    """What a module function receives: args, host (name, state_dir, facts, config), abort."""

    def __init__(self, args: dict, config: dict, state_dir: str = "/nonexistent",
                 name: str = "dev1"):
        self.args = dict(args)
        self.host = SimpleNamespace(
            name=name, state_dir=state_dir, facts={}, classes=[],
            config=lambda module: config.get(module, {}))

    def abort(self, message: str):
        raise Aborted(message)


def load_module(name: str) -> dict:
    """Exec ``modules/<name>.py`` in a fresh namespace, as the host runtime loads it."""
    from orch.agents.authoring import install_runtime_alias

    install_runtime_alias()  # modules import the author kit as orch_runtime
    path = MODULES / f"{name}.py"
    namespace: dict = {"__name__": f"orch_module_{name}", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


@pytest.fixture
def call():
    """``call("haproxy", "disable", args, config)`` → data dict, or raises Aborted."""

    def _call(module: str, action: str, args: dict, config: dict, **host):
        namespace = load_module(module)
        declared = namespace["AGENT"]["actions"][action]["inputs"]
        filled = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
        filled.update(args)
        return namespace[action](StandInRequest(filled, config, **host))

    return _call


# A real HAProxy in front of three tiny HTTP servers that answer their own names.

def _named_server(name: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def lb(tmp_path):
    """A real HAProxy: frontend on a free port, backend ``app`` with dev1..dev3, admin socket."""
    apps = {name: _named_server(name) for name in ("dev1", "dev2", "dev3")}
    socket_path = tmp_path / "haproxy.sock"
    frontend = free_port()
    servers = "\n".join(f"    server {name} 127.0.0.1:{app.server_address[1]}"
                        for name, app in apps.items())
    (tmp_path / "haproxy.cfg").write_text(f"""\
global
    stats socket {socket_path} mode 600 level admin
    pidfile {tmp_path}/haproxy.pid
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:{frontend}
    default_backend app
backend app
    balance roundrobin
{servers}
backend other
    server lone 127.0.0.1:9
""")
    subprocess.run([HAPROXY, "-f", str(tmp_path / "haproxy.cfg"), "-D"], check=True)
    deadline = time.time() + 5
    while not socket_path.exists() and time.time() < deadline:
        time.sleep(0.05)
    yield {"config": {"haproxy": {"socket": str(socket_path)}}, "socket": str(socket_path),
           "frontend": f"http://127.0.0.1:{frontend}/"}
    os.kill(int((tmp_path / "haproxy.pid").read_text()), signal.SIGTERM)
    for app in apps.values():
        app.shutdown()



def haproxy_states(socket_path: str, backend: str = "app") -> dict:
    """HAProxy's own word: srv_admin_state bit 0x01 (forced maintenance), 0x08 (drain)."""
    module = load_module("haproxy")
    answer = module["runtime_command"](socket_path, f"show servers state {backend}")
    lines = [line for line in answer.splitlines() if line and not line.startswith("#")][1:]
    states = {}
    for line in lines:
        fields = line.split()
        admin = int(fields[6])
        states[fields[3]] = "MAINT" if admin & 0x01 else "DRAIN" if admin & 0x08 else "READY"
    return states


# The lab's real app server, started as the lab starts it.

def answer(config: dict) -> str:
    url = f"http://{config['address']}:{config['port']}/"
    return urllib.request.urlopen(url, timeout=5).read().decode().strip()


def pid_of(config: dict) -> int:
    return int(Path(config["pidfile"]).read_text())


def wait_answering(config: dict, seconds: float = 10) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            answer(config)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("app did not come up")


def stop_app(config: dict) -> None:
    try:
        pid = pid_of(config)
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError):
        return
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


@pytest.fixture
def app(tmp_path):
    """App settings as the lab writes them into host.json; the app runs revision 19."""
    folder = tmp_path / "app"
    folder.mkdir()
    port = free_port()
    config = {
        "address": "127.0.0.1", "port": port,
        "command": [PYTHON, str(APPSERVER), "--name", "dev1", "--address", "127.0.0.1",
                    "--port", str(port), "--revision-file", str(folder / "revision"),
                    "--pidfile", str(folder / "app.pid"), "--log", str(folder / "app.log")],
        "pidfile": str(folder / "app.pid"), "revision_file": str(folder / "revision"),
        "log": str(folder / "app.log"),
    }
    (folder / "revision").write_text("19\n")
    started = subprocess.Popen(config["command"], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_answering(config)
    yield config
    stop_app(config)
    started.poll()


