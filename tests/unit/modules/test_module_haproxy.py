"""haproxy module against a real HAProxy started from a config in a tmp folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import Aborted, free_port, load_module

HAPROXY = "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed")


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


def served_by(frontend: str, requests: int = 9) -> set:
    return {urllib.request.urlopen(frontend, timeout=5).read().decode() for _ in range(requests)}


def test_disable_puts_servers_in_maint_and_traffic_avoids_them(lb, call):
    assert served_by(lb["frontend"]) == {"dev1", "dev2", "dev3"}
    data = call("haproxy", "disable", {"backend": "app", "server": "dev2,dev3"}, lb["config"])
    assert data["servers"] == {"dev2": "MAINT", "dev3": "MAINT"}
    assert data["previous"] == {"dev2": "UP", "dev3": "UP"}
    assert haproxy_states(lb["socket"]) == {"dev1": "READY", "dev2": "MAINT", "dev3": "MAINT"}
    assert served_by(lb["frontend"]) == {"dev1"}

    data = call("haproxy", "enable", {"backend": "app", "server": ["dev2", "dev3"]}, lb["config"])
    assert data["servers"] == {"dev2": "UP", "dev3": "UP"}
    assert haproxy_states(lb["socket"]) == {"dev1": "READY", "dev2": "READY", "dev3": "READY"}
    assert served_by(lb["frontend"]) == {"dev1", "dev2", "dev3"}


def test_drain_sets_drain_state(lb, call):
    data = call("haproxy", "disable", {"backend": "app", "server": ["dev1"], "drain": True},
                lb["config"])
    assert data["state"] == "DRAIN" and data["servers"] == {"dev1": "DRAIN"}
    assert haproxy_states(lb["socket"])["dev1"] == "DRAIN"


def test_status_lists_servers_and_counts(lb, call):
    call("haproxy", "disable", {"backend": "app", "server": "dev2"}, lb["config"])
    data = call("haproxy", "status", {"backend": "app"}, lb["config"])
    assert [(server["name"], server["state"]) for server in data["servers"]] == [
        ("dev1", "UP"), ("dev2", "MAINT"), ("dev3", "UP")]
    assert data["states"] == "MAINT 1, UP 2"
    assert (data["up"], data["maint"], data["total"]) == (2, 1, 3)


def test_unknown_backend_aborts_and_changes_nothing(lb, call):
    with pytest.raises(Aborted, match="no backend 'nope' in HAProxy"):
        call("haproxy", "disable", {"backend": "nope", "server": "dev1"}, lb["config"])
    with pytest.raises(Aborted, match="no backend 'nope' in HAProxy"):
        call("haproxy", "status", {"backend": "nope"}, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


def test_server_not_in_backend_aborts_before_any_change(lb, call):
    # dev1 exists and comes first: it must not be disabled when dev9 is unknown.
    with pytest.raises(Aborted, match="server dev9 is not in backend app"):
        call("haproxy", "disable", {"backend": "app", "server": "dev1,dev9"}, lb["config"])
    # 'lone' lives in another backend.
    with pytest.raises(Aborted, match="server lone is not in backend app"):
        call("haproxy", "disable", {"backend": "app", "server": ["lone"]}, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


@pytest.mark.parametrize("args", [
    {"backend": "app;disable frontend web", "server": "dev1"},
    {"backend": "app\nshow info", "server": "dev1"},
    {"backend": "app", "server": "dev1;shutdown sessions server app/dev1"},
    {"backend": "app", "server": ["dev1 state maint\nset server app/dev2"]},
    {"backend": "app", "server": "$(touch /tmp/x)"},
])
def test_metacharacters_rejected_by_declaration_and_module(lb, call, args):
    module = load_module("haproxy")
    inputs = module["AGENT"]["actions"]["disable"]["inputs"]
    declared_ok = all(
        re.search(inputs[key]["validation"], value if isinstance(value, str) else ",".join(value))
        for key, value in args.items())
    assert not declared_ok
    with pytest.raises(Aborted, match="invalid"):
        call("haproxy", "disable", args, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


def test_missing_socket_is_a_clear_abort(tmp_path, call):
    config = {"haproxy": {"socket": str(tmp_path / "gone.sock")}}
    with pytest.raises(Aborted, match="gone.sock does not exist"):
        call("haproxy", "status", {"backend": "app"}, config)
    with pytest.raises(Aborted, match="no haproxy socket configured"):
        call("haproxy", "enable", {"backend": "app", "server": "dev1"}, {})
