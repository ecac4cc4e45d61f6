"""The installed asyncssh is the one orch's adjustments were checked against, or the suite fails.

The expectation below is written out here on purpose, not read from ``orch.transport.gate``:
upgrading asyncssh (or patching it) must make ``make test`` fail until someone has re-read the
code each adjustment touches and re-measured it. Adapting or skipping would let every
adjustment switch itself off without anyone noticing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orch.transport import gate

# asyncssh release -> adjustment -> code it depends on -> SHA-256 of its source
# (inspect.getsource of a function, or a whole file of the package).
CHECKED = {
    "2.24.1": {
        "no-x509": {
            "asyncssh/crypto/__init__.py":
                "0125bc86c2aa9c637d76ebe00c0a664c67e66cac8185d85f1b4159224e026c1e",
        },
        "quick-find-library": {
            "asyncssh/crypto/pq.py":
                "6f37d68cd9f8ec92ef956d06aab8728b80b8eb1b038aa15c25a4ebdda4c21bf0",
            "asyncssh/crypto/umac.py":
                "6d5215a3b08aecd7360d47ded7d029e8305cac5870847b2cd52f71b4316df9c0",
        },
        "sign-first": {
            "asyncssh.auth:_ClientPublicKeyAuth._start":
                "f9cecd231d6426ba74b5b343038511ec4e06b88c4532131f13069547563fe70b",
            "asyncssh.auth:_ClientPublicKeyAuth._send_signed_request":
                "a07dc7796a94d2c1c86edfea03353b98c26da87e270662d4d15da7d329ce1186",
        },
        "publickey-before-none": {
            "asyncssh.connection:SSHClientConnection.__init__":
                "80ecd24f9f54653380c38e07b4162809102773104fad4c5e4da25c9ab113f645",
            "asyncssh.connection:SSHClientConnection.try_next_auth":
                "f0135956d276242eac9016d39048500c8a34d0fd2b5f0530881dd9636db1744c",
        },
        "no-ignore-with-aead": {
            "asyncssh.connection:SSHConnection.send_packet":
                "fb9da7bec6dd395a2f379f8a0f4dbfc5f194ff80e1ed8630d9a6dbf291359406",
        },
        "lazy-packet-log": {
            "asyncssh.packet:SSHPacketLogger._log_packet":
                "f3263d7da93663f1a3825d53a0ef71122da1168957e28d0b84dc20a3bba0c45c",
        },
        "quiet-log": {
            "asyncssh.logging:SSHLogger.log":
                "508a0a50623f9179a151a2c06c5ba562ae19e97d3372b1ba46e964dead193631",
        },
        "prepared-options": {
            "asyncssh.connection:connect":
                "f47d8e45adab670f741136297501cb1f46585ead4e44ce5997e14a5c1e5acc81",
            "asyncssh.connection:_connect":
                "7d35aa724ce6fb893f755422547d90238875b672953da76cea0fd7072eb76fbf",
            "asyncssh.connection:SSHConnectionOptions.prepare":
                "b6fb904a7f961dccd26690d358471664223929b628d6587a1c6719b46482a694",
            "asyncssh.connection:SSHClientConnectionOptions.prepare":
                "a69e7165d63219856af4fc01669209202af735acbba9afc83993459b12be39a1",
        },
    },
}

WHAT_TO_DO = (
    "orch's asyncssh adjustments (orch/transport/sshlib.py) were checked against asyncssh {checked}"
    " only; {problem}. They are all switched OFF now, so orch works but runs slower. To upgrade "
    "deliberately: read each changed function against its adjustment, keep or drop the "
    "adjustment, re-measure with bench/cpu_ab.py (bench/REPORT.md, 'asyncssh adjustments'), "
    "then record the new release and hashes in orch/transport/gate.py (CHECKED_VERSION, "
    "CHECKED) and in this test's CHECKED. Or pin asyncssh=={checked} in setup.cfg.")

# The installed code, hashed by asyncssh and inspect alone (no orch, nothing adjusted yet).
_INSTALLED = r"""
import hashlib, importlib, inspect, json, pathlib, sys
import asyncssh
keys = json.loads(sys.argv[1])
root = pathlib.Path(asyncssh.__file__).parent.parent
def source(key):
    if ":" not in key:
        return (root / key).read_text(encoding="utf-8")
    module, _, qualname = key.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return None if obj is None else inspect.getsource(obj)
found = {k: source(k) for k in keys}
print(json.dumps({"version": asyncssh.__version__,
                  "digests": {k: s and hashlib.sha256(s.encode()).hexdigest()
                              for k, s in found.items()}}))
"""


def installed(keys: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    done = subprocess.run([sys.executable, "-c", _INSTALLED, json.dumps(keys)], env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def mismatch(version: str, digests: dict[str, str | None]) -> str | None:
    """Why the installed asyncssh is not one the adjustments were checked against, or None."""
    checked = ", ".join(CHECKED)
    if version not in CHECKED:
        return WHAT_TO_DO.format(checked=checked, problem=f"asyncssh {version} is installed")
    changed = [f"{name}: {key}" for name, code in CHECKED[version].items()
               for key, digest in code.items() if digests.get(key) != digest]
    if changed:
        return WHAT_TO_DO.format(checked=checked, problem=(
            f"asyncssh {version} is installed but its code differs in " + "; ".join(changed)))
    return None


def test_installed_asyncssh_is_the_release_the_adjustments_were_checked_against():
    keys = sorted({key for code in next(iter(CHECKED.values())).values() for key in code})
    found = installed(keys)
    problem = mismatch(found["version"], found["digests"])
    if problem:
        pytest.fail(problem, pytrace=False)


def test_the_code_checks_exactly_what_this_test_expects():
    # The gate's own record must be this one: changing one without the other is a mistake.
    assert {gate.CHECKED_VERSION: gate.CHECKED} == CHECKED


def test_an_unknown_release_or_changed_code_is_a_loud_failure():
    code = CHECKED["2.24.1"]
    digests = {key: digest for part in code.values() for key, digest in part.items()}
    assert mismatch("2.24.1", digests) is None
    for other in ("2.24.0", "2.24.2", "2.25.0"):
        message = mismatch(other, digests)
        assert message and f"asyncssh {other} is installed" in message
        assert "switched OFF" in message and "re-measure" in message
    changed = {**digests, "asyncssh.logging:SSHLogger.log": "f" * 64}
    assert "quiet-log: asyncssh.logging:SSHLogger.log" in mismatch("2.24.1", changed)
