"""The runtime in restricted mode (``core.GATE`` set, as orch's gate sets it): only modules
whose hash the host trusts are loaded, the caller is the gate's, and every decision is audited
with its result. In-process; the gate itself is tests/unit/runtime/test_gate.py."""

from __future__ import annotations

import uuid

import pytest

from orch.runtime import core

MODULE = '''AGENT = {"name": "demo", "description": "d", "version": "1", "author": "a",
         "license": "MIT", "timeout": 5,
         "actions": {"hello": {"description": "h", "inputs": {}, "outputs": {}}}}


def hello(request):
    return {"caller": request.caller}
'''


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    def start(trusted):
        monkeypatch.setattr(core, "GATE", {"caller": "ops", "trusted": frozenset(trusted)})
        audit = core.AuditLog(str(tmp_path / "audit.log"))
        audit.open()
        return core.Runtime(str(tmp_path), core.read_host(str(tmp_path)), "ops", audit)
    return start


def request(name="demo"):
    return {"kind": "request", "reqid": uuid.uuid4().hex, "caller": "forged", "module": name,
            "action": "hello", "args": {}}


def test_an_untrusted_module_is_never_loaded_and_the_refusal_is_audited(runtime, tmp_path):
    served = runtime(trusted=set())
    served.receive_module({"name": "demo", "source": MODULE, "hash": core.source_hash(MODULE)})
    assert served.modules_by_hash == {}
    reply = served.handle_request(request())
    assert reply["status"] == "Aborted"
    assert f"module demo sha256 {core.source_hash(MODULE)} is not trusted" in reply["message"]
    [line] = (tmp_path / "audit.log").read_text().splitlines()
    assert " caller=ops " in line and " result=refused reason=" in line


def test_a_trusted_module_runs_for_the_gates_caller_not_the_frames(runtime, tmp_path):
    served = runtime(trusted={core.source_hash(MODULE)})
    served.receive_module({"name": "demo", "source": MODULE, "hash": core.source_hash(MODULE)})
    reply = served.handle_request(request())
    assert reply["status"] == "OK" and reply["data"]["caller"] == "ops"
    first, second = (tmp_path / "audit.log").read_text().splitlines()
    assert first.endswith(" result=allowed reason=policy") and second == first + " status=OK"
    assert core.mode() == "restricted"


def test_open_mode_without_the_gate(monkeypatch):
    monkeypatch.setattr(core, "GATE", None)
    assert core.mode() == "open"
