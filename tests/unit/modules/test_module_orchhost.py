"""orchhost#init through the real runtime's request path, as root, on a temporary root folder
(``orchhost.ROOT`` and the runtime's ``ETC_DIR``/``LOG_DIR`` aimed at it, in this process only):
owners and modes, idempotence, check mode, the callers map, and the runtime then trusting what
init made (policy, callers, audit log under /var/log/orch)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import uuid
from pathlib import Path

import pytest
from collection_support import InProcessHost
from module_support import MODULES

from orch.runtime import core

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="orchhost#init makes root-owned files")

KEY_BLOB = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(range(32))
FINGERPRINT = "SHA256:" + base64.b64encode(hashlib.sha256(KEY_BLOB).digest()).decode().rstrip("=")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    for folder in ("etc", "var/log"):
        (root / folder).mkdir(parents=True)
    return root


@pytest.fixture
def host(tmp_path, root):
    host = InProcessHost(tmp_path / "lab-state")
    source = (MODULES / "orchhost.py").read_text()
    digest = core.source_hash(source)
    host.runtime.receive_module({"kind": "module", "name": "orchhost", "hash": digest,
                                 "source": source})
    host.runtime.modules_by_hash[digest].ROOT = str(root)
    host.host.add(MODULES / "orchhost.py")  # later requests reuse the module loaded above
    return host


def _mode(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)


def test_init_makes_root_owned_layout_then_changes_nothing(host, root):
    data = host.ok("orchhost", "init", {})
    etc, log = root / "etc" / "orch", root / "var" / "log" / "orch"
    assert data["changed"] is True and data["fixed"] == []
    assert data["state_dir"] == str(etc) and data["audit_log"] == str(log / "audit.log")
    assert _mode(etc) == (0, 0, 0o755)
    assert _mode(etc / "policy") == (0, 0, 0o755)
    assert _mode(etc / "facts.d") == (0, 0, 0o755)
    for name in ("host.json", "classes", "callers"):
        assert _mode(etc / name) == (0, 0, 0o644), name
    for policy in (etc / "policy").iterdir():
        assert _mode(policy) == (0, 0, 0o644)
        assert "policy default allow" in policy.read_text()
    assert {p.name for p in (etc / "policy").iterdir()} >= {"command.policy", "file.policy",
                                                            "package.policy"}
    assert _mode(log) == (0, 0, 0o750)
    assert _mode(log / "audit.log") == (0, 0, 0o640)
    assert json.loads((etc / "host.json").read_text()) == {"classes": [], "config": {}, "facts": {}}
    assert str(etc) in data["created"] and str(log) in data["created"]

    again = host.ok("orchhost", "init", {})
    assert again["changed"] is False and again["created"] == [] and again["fixed"] == []


def test_init_fixes_modes_and_owners_but_keeps_edited_content(host, root):
    host.ok("orchhost", "init", {})
    etc = root / "etc" / "orch"
    (etc / "policy" / "command.policy").write_text("policy default deny\n")
    os.chmod(etc / "policy" / "command.policy", 0o666)
    os.chown(etc / "classes", 1234, 1234)
    os.chmod(etc, 0o777)
    data = host.ok("orchhost", "init", {})
    assert data["changed"] is True and data["created"] == []
    assert sorted(data["fixed"]) == sorted([str(etc), str(etc / "classes"),
                                            str(etc / "policy" / "command.policy")])
    assert _mode(etc) == (0, 0, 0o755)
    assert _mode(etc / "classes") == (0, 0, 0o644)
    assert _mode(etc / "policy" / "command.policy") == (0, 0, 0o644)
    assert (etc / "policy" / "command.policy").read_text() == "policy default deny\n"


def test_check_mode_reports_and_writes_nothing(host, root):
    data = host.ok("orchhost", "init", {}, check=True)
    assert data["changed"] is True and str(root / "etc" / "orch" / "callers") in data["created"]
    assert not (root / "etc" / "orch").exists() and not (root / "var" / "log" / "orch").exists()


def test_callers_map_is_written_and_replaced_only_when_sent(host, root):
    callers = root / "etc" / "orch" / "callers"
    data = host.ok("orchhost", "init", {"callers": [f"{FINGERPRINT} rip"]})
    assert callers.read_text().splitlines()[1:] == [f"{FINGERPRINT} rip"]
    assert host.ok("orchhost", "init", {"callers": [f"{FINGERPRINT} rip"]})["changed"] is False
    assert host.ok("orchhost", "init", {})["changed"] is False  # not sent: kept
    data = host.ok("orchhost", "init", {"callers": [f"{FINGERPRINT} alice"]})
    assert data["fixed"] == [str(callers)]
    assert callers.read_text().splitlines()[1:] == [f"{FINGERPRINT} alice"]


@pytest.mark.parametrize("line", ["SHA256:short rip", f"{FINGERPRINT} rip; rm -rf /",
                                  f"{FINGERPRINT}\nssh-ed25519 AAAA evil", "rip"])
def test_bad_callers_lines_are_invalid_data_and_write_nothing(host, root, line):
    reply = host.call("orchhost", "init", {"callers": [line]})
    assert reply["status"] == "InvalidData"
    assert not (root / "etc" / "orch").exists()


def test_runtime_uses_what_init_made(host, root, tmp_path, monkeypatch):
    """After init: /etc/orch is the state folder, root's audit log is /var/log/orch/audit.log,
    the policy files pass the StrictModes check, and the callers map names the operator."""
    host.ok("orchhost", "init", {"callers": [f"{FINGERPRINT} rip"]})
    etc, log = root / "etc" / "orch", root / "var" / "log" / "orch"
    monkeypatch.setattr(core, "ETC_DIR", str(etc))
    monkeypatch.setattr(core, "LOG_DIR", str(log))
    auth = tmp_path / "auth"
    auth.write_text(f"publickey ssh-ed25519 {base64.b64encode(KEY_BLOB).decode()}\n")
    environ = {"HOME": str(tmp_path / "home"), "SSH_USER_AUTH": str(auth)}
    state = core.resolve_state_dir(environ)
    assert state == str(etc)
    audit_path = core.resolve_audit_log(environ, state)
    assert audit_path == str(log / "audit.log")
    audit = core.AuditLog(audit_path)
    audit.open()
    caller = core.identify_caller(environ, state)
    assert caller == "rip"
    runtime = core.Runtime(state, core.read_host(state), caller, audit)
    source = (MODULES / "command.py").read_text()
    runtime.receive_module({"kind": "module", "name": "command", "hash": core.source_hash(source),
                            "source": source})
    reply = runtime.handle_request({"kind": "request", "reqid": uuid.uuid4().hex, "caller": "x",
                                    "module": "command", "action": "run",
                                    "args": {"argv": ["/bin/true"]}, "timeout": 10})
    assert reply["status"] == "OK", reply
    assert "caller=rip agent=command action=run" in (log / "audit.log").read_text()
    # a policy others can write is refused, and init sets it right again
    os.chmod(etc / "policy" / "command.policy", 0o664)
    reply = runtime.handle_request({"kind": "request", "reqid": uuid.uuid4().hex, "caller": "x",
                                    "module": "command", "action": "run",
                                    "args": {"argv": ["/bin/true"]}, "timeout": 10})
    assert reply["status"] == "Aborted" and "is writable by group or others" in reply["message"]
    assert host.ok("orchhost", "init", {})["fixed"] == [str(etc / "policy" / "command.policy")]
