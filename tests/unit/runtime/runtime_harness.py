"""Run the real runtime as a local subprocess and speak the frame protocol with it.

The process is started exactly as the controller starts it over SSH (``/usr/bin/python3 -I -S
-c <bootstrap>``, then the payload on stdin), only with pipes instead of an SSH channel and
``ORCH_STATE_DIR`` pointing at a temporary state folder.
"""

import subprocess
import uuid
from pathlib import Path

from orch.runtime import bootstrap, core

REPO = Path(__file__).resolve().parents[3]
REMOTE_PYTHON = "/usr/bin/python3"


class RuntimeProcess:
    """One runtime process; ``call`` sends (module once, then) a request and returns the reply."""

    def __init__(self, state_dir: Path, environ: dict | None = None, python: str = REMOTE_PYTHON):
        env = {"PATH": "/usr/bin:/bin", "HOME": str(state_dir.parent), "ORCH_STATE_DIR": str(state_dir)}
        env.update(environ or {})
        self.process = subprocess.Popen(
            [python, "-I", "-S", "-c", bootstrap.COMMAND],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        self.process.stdin.write(bootstrap.payload())
        self.process.stdin.flush()
        self.sent = set()
        self.hello = self.receive()

    def send(self, message: dict) -> None:
        self.process.stdin.write(core.encode_frame(message))
        self.process.stdin.flush()

    def receive(self) -> dict:
        frame = core.read_frame(self.process.stdout)
        assert frame is not None, self.process.stderr.read().decode()
        return frame

    def send_module(self, name: str, source: str | None = None) -> None:
        if source is None:
            source = (REPO / "modules" / f"{name}.py").read_text()
        self.send({"kind": "module", "name": name, "hash": core.source_hash(source), "source": source})
        self.sent.add(name)

    def call(self, module: str, action: str, args: dict | None = None, timeout: float = 0,
             reqid: str | None = None) -> dict:
        if module not in self.sent and (REPO / "modules" / f"{module}.py").exists():
            self.send_module(module)
        reqid = reqid or uuid.uuid4().hex
        self.send({"kind": "request", "reqid": reqid, "caller": "tester", "module": module,
                   "action": action, "args": args or {}, "timeout": timeout})
        reply = self.receive()
        assert reply["kind"] == "reply" and reply["reqid"] == reqid
        return reply

    def close(self) -> int:
        if self.process.poll() is None:
            try:
                self.send({"kind": "exit"})
            except BrokenPipeError:
                pass
            self.process.stdin.close()
        code = self.process.wait(timeout=10)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


def audit_lines(state_dir: Path) -> list[str]:
    path = state_dir / "audit.log"
    return path.read_text().splitlines() if path.exists() else []


DEMO_MODULE = '''
import os

AGENT = {
    "name": "demo", "description": "test module", "version": "0.1", "timeout": 5,
    "actions": {
        "touch": {"description": "create a file", "inputs": {
            "path": {"type": "string", "required": True}}, "outputs": {}},
        "login": {"description": "takes a secret", "inputs": {
            "user": {"type": "string", "required": True},
            "password": {"type": "string", "required": True, "sensitive": True,
                         "validation": "^[a-z0-9]+$"}},
            "outputs": {"ok": {"display_as": "OK", "default": False}}},
        "boom": {"description": "raises", "inputs": {}, "outputs": {}},
        "refuse": {"description": "aborts", "inputs": {}, "outputs": {}},
        "slow": {"description": "sleeps", "inputs": {"seconds": {"type": "number", "default": 5}},
                 "outputs": {}},
        "noisy": {"description": "prints and runs a command reading stdin", "inputs": {},
                  "outputs": {"status": {"display_as": "Status"}}},
        "settings": {"description": "host config", "inputs": {}, "outputs": {}},
        "ghost": {"description": "declared but no function", "inputs": {}, "outputs": {}},
    },
}


def touch(request):
    open(request.args["path"], "w").close()
    return {}


def login(request):
    return {"user": request.args["user"]}


def boom(request):
    raise ValueError("the disk is on fire")


def refuse(request):
    request.abort("not today")


def slow(request):
    import time
    time.sleep(request.args["seconds"])
    return {"slept": request.args["seconds"]}


def noisy(request):
    import subprocess
    print("chatter on stdout")
    output = subprocess.check_output(["cat"])
    return {"status": "ok", "cat": output.decode()}


def settings(request):
    return {"greeting": request.config.get("greeting"), "host": request.host.name,
            "caller": request.caller}
'''
