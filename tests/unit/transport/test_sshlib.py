"""orch.transport.sshlib and gate: each asyncssh adjustment applies only where it was checked."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys

import pytest

from orch.transport import gate, sshlib

NAMES = list(gate.CHECKED)
PLAIN = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_SSH_TUNING")}


def test_finds_libraries_without_running_ldconfig_or_gcc():
    assert sshlib.find_library_in_dirs("c") == "libc.so.6"
    assert sshlib.find_library_in_dirs("orch-no-such-library") is None
    assert ctypes.util.find_library is not sshlib.find_library_in_dirs  # restored after import


def _report(env: dict, before: str = "") -> dict:
    """tuning_report() and what asyncssh looks like in a fresh interpreter with ``env``."""
    code = (before + "\nimport json, sys\nfrom orch.transport import sshlib, tuning_report\n"
            "print(json.dumps({'report': tuning_report(), 'applied': sshlib.APPLIED,\n"
            "  'x509': 'cryptography.x509' in sys.modules,\n"
            "  'start': sshlib.asyncssh.auth._ClientPublicKeyAuth._start.__module__,\n"
            "  'log': sshlib.asyncssh.logging.SSHLogger.log.__module__}))")
    done = subprocess.run([sys.executable, "-c", code], env={**PLAIN, **env},
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_on_the_checked_release_every_adjustment_is_on():
    if sshlib.VERSION != gate.CHECKED_VERSION:
        pytest.fail(f"asyncssh {sshlib.VERSION} is installed; see test_asyncssh_checked.py")
    seen = _report({})
    assert seen["report"] == dict.fromkeys(NAMES, "on")
    assert seen["applied"] == NAMES
    assert not seen["x509"] and seen["start"] == "orch.transport.sshlib"


def test_an_unknown_asyncssh_version_switches_every_adjustment_off():
    # Nothing installed: the version the gate reads is replaced before orch imports asyncssh.
    seen = _report({}, before="import orch.transport.gate as g\n"
                              "g.installed_version = lambda: '2.24.2'")
    reason = f"off: asyncssh 2.24.2 is installed, not {gate.CHECKED_VERSION}"
    assert seen["report"] == dict.fromkeys(NAMES, reason)
    assert seen["applied"] == []
    # asyncssh as shipped: X.509 loaded, its own auth start and logger
    assert seen["x509"] and seen["start"] == "asyncssh.auth" and seen["log"] == "asyncssh.logging"


def test_the_gate_reads_the_whole_version_and_every_digest():
    checked = {key: digest for name in NAMES for key, digest in gate.CHECKED[name].items()}
    for version in ("2.24.0", "2.24", "2.25.0", "3.0.0", ""):
        assert gate.decide("sign-first", version, checked, {}).startswith("off: asyncssh ")
    assert gate.decide("sign-first", gate.CHECKED_VERSION, checked, {}) == "on"
    key = "asyncssh.auth:_ClientPublicKeyAuth._start"
    changed = {**checked, key: "0" * 64}
    assert gate.decide("sign-first", gate.CHECKED_VERSION, changed, {}) == (
        f"off: {key} is not the code checked (its sha256 is 000000000000...)")
    assert gate.decide("quiet-log", gate.CHECKED_VERSION, changed, {}) == "on"  # not its code
    missing = {**checked, key: None}
    assert gate.decide("sign-first", gate.CHECKED_VERSION, missing, {}) == f"off: {key} is missing"


def test_re_running_the_gate_on_another_version_reports_off(monkeypatch):
    monkeypatch.setattr(gate, "installed_version", lambda: "2.25.0")
    again = sshlib.decide(gate.installed_version(), {})
    assert set(again) == set(NAMES) - set(sshlib.IMPORT_TIME)
    assert all(state.startswith("off: asyncssh 2.25.0 is installed") for state in again.values())


def test_adjustments_can_be_switched_off_one_by_one_or_all():
    seen = _report({"ORCH_SSH_TUNING_OFF": "sign-first,no-x509"})
    assert seen["report"]["sign-first"] == seen["report"]["no-x509"] == "off: ORCH_SSH_TUNING_OFF"
    assert seen["x509"] and seen["start"] == "asyncssh.auth"
    assert set(seen["applied"]) == set(NAMES) - {"sign-first", "no-x509"}
    every = _report({"ORCH_SSH_TUNING": "0"})
    assert every["report"] == dict.fromkeys(NAMES, "off: ORCH_SSH_TUNING=0")
    assert every["log"] == "asyncssh.logging"


def test_asyncssh_imported_before_orch_keeps_its_x509_support():
    seen = _report({}, before="import asyncssh")
    assert seen["report"]["no-x509"] == "off: asyncssh was imported before orch.transport"
    assert seen["x509"]


def test_function_source_is_what_inspect_getsource_gives():
    done = subprocess.run(
        [sys.executable, "-c", "import inspect, json, asyncssh\n"
         "from orch.transport import gate\n"
         "keys = [k for n in gate.CHECKED.values() for k in n if ':' in k]\n"
         "def obj(k):\n"
         "    import importlib; m, _, q = k.partition(':'); o = importlib.import_module(m)\n"
         "    for p in q.split('.'): o = getattr(o, p)\n"
         "    return o\n"
         "print(json.dumps({k: [gate.function_source(k), inspect.getsource(obj(k))] "
         "for k in keys}))"],
        env={**PLAIN, "ORCH_SSH_TUNING": "0"}, capture_output=True, text=True, check=True)
    pairs = json.loads(done.stdout)
    assert pairs
    for key, (cheap, exact) in pairs.items():
        assert cheap.rstrip() == exact.rstrip(), key
