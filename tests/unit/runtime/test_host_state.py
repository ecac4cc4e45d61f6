"""Where a host keeps its state (issue 14 item 4): the lab's and ``$ORCH_STATE_DIR``'s folders
first, then ``/etc/orch`` when it exists, else ``~/.orch``; the audit log under /var/log/orch
for root; policy and callers files trusted only as sshd's StrictModes would trust them.

``core.ETC_DIR``/``core.LOG_DIR`` are module constants aimed at temporary folders here, in this
process only; nothing a request or the environment carries can move them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

from orch.runtime import core


@pytest.fixture
def system(tmp_path, monkeypatch):
    """A fake root: ``etc`` for /etc/orch (not created), ``log`` for /var/log/orch, a HOME."""
    etc, log, home = tmp_path / "etc-orch", tmp_path / "var-log-orch", tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(core, "ETC_DIR", str(etc))
    monkeypatch.setattr(core, "LOG_DIR", str(log))
    return etc, log, home


def test_lab_and_explicit_state_dir_win_over_etc(system, tmp_path):
    etc, _, home = system
    etc.mkdir()
    explicit = {"ORCH_STATE_DIR": str(tmp_path / "s"), "HOME": str(home)}
    assert core.resolve_state_dir(explicit) == str(tmp_path / "s")
    lab = {"ORCH_LAB_DIR": "/lab", "SSH_CONNECTION": "10.0.0.1 5000 127.0.1.3 22", "HOME": str(home)}
    assert core.resolve_state_dir(lab) == "/lab/addr/127.0.1.3"
    assert core.resolve_audit_log(lab, "/lab/addr/127.0.1.3") == "/lab/addr/127.0.1.3/audit.log"


def test_etc_orch_when_it_exists_else_home(system):
    etc, log, home = system
    environ = {"HOME": str(home)}
    assert core.resolve_state_dir(environ) == str(home / ".orch")
    assert core.resolve_audit_log(environ, str(home / ".orch")) == str(home / ".orch" / "audit.log")
    etc.mkdir()
    assert core.resolve_state_dir(environ) == str(etc)


def test_audit_log_for_etc_orch_depends_on_root(system, monkeypatch):
    etc, log, home = system
    environ = {"HOME": str(home)}
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert core.resolve_audit_log(environ, str(etc)) == str(log / "audit.log")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert core.resolve_audit_log(environ, str(etc)) == str(home / ".orch" / "audit.log")


def _policy(state: Path, text: str, mode: int = 0o644) -> Path:
    folder = state / "policy"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    os.chmod(folder, 0o755)
    path = folder / "rpcutil.policy"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def _runtime(state: Path, audit_path: Path) -> core.Runtime:
    audit = core.AuditLog(str(audit_path))
    audit.open()
    return core.Runtime(str(state), core.read_host(str(state)), "tester", audit)


def _ping(runtime: core.Runtime) -> dict:
    source = (Path(__file__).resolve().parents[3] / "modules" / "rpcutil.py").read_text()
    runtime.receive_module({"kind": "module", "name": "rpcutil",
                            "hash": core.source_hash(source), "source": source})
    return runtime.handle_request({"kind": "request", "reqid": uuid.uuid4().hex,
                                   "caller": "tester", "module": "rpcutil", "action": "ping",
                                   "args": {}, "timeout": 5})


def test_policy_writable_by_others_aborts_with_the_reason(tmp_path):
    state = tmp_path / "state"
    path = _policy(state, "policy default allow\n", 0o666)
    reply = _ping(_runtime(state, state / "audit.log"))
    assert reply["status"] == "Aborted"
    assert f"policy {path} is not trusted" in reply["message"]
    assert "writable by group or others (mode 0666)" in reply["message"]
    os.chmod(path, 0o644)
    assert _ping(_runtime(state, state / "audit.log"))["status"] == "OK"


def test_policy_folder_writable_by_group_aborts(tmp_path):
    state = tmp_path / "state"
    _policy(state, "policy default allow\n")
    os.chmod(state / "policy", 0o775)
    reply = _ping(_runtime(state, state / "audit.log"))
    assert reply["status"] == "Aborted"
    assert f"{state / 'policy'} is writable by group or others (mode 0775)" in reply["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_policy_in_etc_orch_must_be_owned_by_root(system):
    etc, log, home = system
    path = _policy(etc, "policy default allow\n")
    os.chown(path, 1234, 1234)
    log.mkdir()
    reply = _ping(_runtime(etc, log / "audit.log"))
    assert reply["status"] == "Aborted"
    assert "is owned by uid 1234, not by uid 0" in reply["message"]
    os.chown(path, 0, 0)
    assert _ping(_runtime(etc, log / "audit.log"))["status"] == "OK"
    assert "agent=rpcutil action=ping" in (log / "audit.log").read_text()


def test_inventory_names_state_folder_and_audit_log(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    runtime = _runtime(state, tmp_path / "audit.log")
    source = (Path(__file__).resolve().parents[3] / "modules" / "rpcutil.py").read_text()
    runtime.receive_module({"kind": "module", "name": "rpcutil",
                            "hash": core.source_hash(source), "source": source})
    reply = runtime.handle_request({"kind": "request", "reqid": uuid.uuid4().hex,
                                    "caller": "tester", "module": "rpcutil",
                                    "action": "inventory", "args": {}, "timeout": 10})
    assert reply["status"] == "OK", reply
    assert reply["data"]["state_dir"] == str(state)
    assert reply["data"]["audit_log"] == str(tmp_path / "audit.log")


def _auth_info(tmp_path: Path, blob: bytes) -> tuple[str, str]:
    key = base64.b64encode(blob).decode()
    info = tmp_path / "auth-info"
    info.write_text(f"publickey ssh-ed25519 {key}\n")
    fingerprint = "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return str(info), fingerprint


def test_callers_by_fingerprint_and_untrusted_callers_ignored(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    info, fingerprint = _auth_info(tmp_path, b"\x00\x00\x00\x0bssh-ed25519" + bytes(36))
    callers = state / "callers"
    callers.write_text(f"# operators\n{fingerprint} rip\n")
    os.chmod(callers, 0o644)
    environ = {"SSH_USER_AUTH": info, "USER": "login"}
    assert core.identify_caller(environ, str(state)) == "rip"
    os.chmod(callers, 0o646)
    assert core.identify_caller(environ, str(state)) != "rip"


def test_key_fingerprint_matches_ssh_keygen_format():
    blob = b"\x00\x00\x00\x0bssh-ed25519" + bytes(range(36))
    expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert core.key_fingerprint(base64.b64encode(blob).decode()) == "SHA256:" + expected


def test_hello_names_the_audit_log(tmp_path):
    from runtime_harness import RuntimeProcess

    state = tmp_path / "state"
    state.mkdir()
    (state / "host.json").write_text(json.dumps({"name": "h1"}))
    process = RuntimeProcess(state)
    try:
        assert process.hello["state_dir"] == str(state)
        assert process.hello["audit_log"] == str(state / "audit.log")
    finally:
        process.close()
