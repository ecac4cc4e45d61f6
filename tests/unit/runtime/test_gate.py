"""orch's gate (orch/runtime/gate.py) in a subprocess, aimed at a temporary trusted.d and audit
log: it runs a runtime only by the hash of its source, ignores the client's bytecode, and
refuses anything else with one line naming the hash, audited. The realistic-fleet tests in
tests/trust run it as sshd's forced command."""

from __future__ import annotations

import hashlib
import marshal
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from orch.runtime import bootstrap

GATE = Path(bootstrap.__file__).with_name("gate.py")
RUNTIME = b"def main():\n    import sys\n    sys.stdout.write('ran for %s' % __orch_gate__['caller'])\n"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the gate re-executes itself with "
                                "sudo unless it is root; these tests run it as root")


def run_gate(tmp_path: Path, payload: bytes, caller: str = "ops"):
    code = ("import runpy, sys\n"
            f"gate = runpy.run_path({str(GATE)!r})\n"
            f"gate['main'].__globals__.update(TRUSTED_DIR={str(tmp_path / 'trusted.d')!r}, "
            f"AUDIT_LOG={str(tmp_path / 'audit.log')!r}, "
            f"CACHE_DIR={str(tmp_path / 'cache')!r})\n"
            f"gate['main'](['gate', {caller!r}])\n")
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], input=payload,
                          capture_output=True, timeout=30)


def trust(tmp_path: Path, source: bytes, mode: int = 0o644) -> str:
    folder = tmp_path / "trusted.d"
    folder.mkdir(exist_ok=True)
    digest = hashlib.sha256(source).hexdigest()
    (folder / digest).write_text("runtime\n")
    os.chmod(folder / digest, mode)
    return digest


def audit(tmp_path: Path) -> list[str]:
    return (tmp_path / "audit.log").read_text().splitlines()


def test_a_trusted_runtime_runs_with_the_operator_from_the_argument(tmp_path):
    trust(tmp_path, RUNTIME)
    result = run_gate(tmp_path, bootstrap.pack(zlib.compress(RUNTIME), "x"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"ran for ops"


def test_the_clients_bytecode_is_ignored(tmp_path):
    trust(tmp_path, RUNTIME)
    evil = marshal.dumps(compile("def main():\n    print('evil')\n", "x", "exec"))
    payload = bootstrap.pack(zlib.compress(RUNTIME), sys.implementation.cache_tag,
                             zlib.compress(evil))
    assert run_gate(tmp_path, payload).stdout == b"ran for ops"


def test_an_untrusted_runtime_is_refused_naming_its_hash_and_audited(tmp_path):
    trust(tmp_path, RUNTIME)
    other = RUNTIME + b"# changed\n"
    result = run_gate(tmp_path, bootstrap.pack(zlib.compress(other), "x"))
    digest = hashlib.sha256(other).hexdigest()
    assert result.returncode == 1 and result.stdout == b""
    assert result.stderr.decode().strip().splitlines()[-1].startswith(
        f"orch gate: runtime sha256 {digest} is not trusted on this host")
    [line] = audit(tmp_path)
    assert line.startswith("reqid=-: ") and " caller=ops " in line
    assert " result=refused reason=" in line and digest in line


def test_a_trusted_d_file_others_can_write_is_not_trusted(tmp_path):
    trust(tmp_path, RUNTIME, mode=0o666)
    result = run_gate(tmp_path, bootstrap.pack(zlib.compress(RUNTIME), "x"))
    assert result.returncode == 1 and b"is not trusted" in result.stderr


@pytest.mark.parametrize("payload", [b"", b"touch /tmp/x\n", b"12 x 0\nshort"])
def test_anything_but_a_payload_is_refused_and_audited(tmp_path, payload):
    result = run_gate(tmp_path, payload)
    assert result.returncode == 1 and result.stderr.startswith(b"orch gate: ")
    assert " result=refused " in audit(tmp_path)[-1]


def test_an_invalid_operator_name_stops_it(tmp_path):
    result = run_gate(tmp_path, b"", caller="ops x")
    assert result.returncode == 1 and b"no valid operator name" in result.stderr


def test_the_trusted_runtime_is_compiled_once_and_kept_in_roots_cache(tmp_path):
    digest = trust(tmp_path, RUNTIME)
    payload = bootstrap.pack(zlib.compress(RUNTIME), "x")
    assert run_gate(tmp_path, payload).stdout == b"ran for ops"
    [cached] = (tmp_path / "cache").iterdir()
    assert cached.name.startswith(digest + "-") and cached.stat().st_uid == 0
    code = marshal.dumps(compile("def main():\n    print('from the cache')\n", "x", "exec"))
    cached.write_bytes(code)  # root's file: the gate believes it (only root could write it)
    assert run_gate(tmp_path, payload).stdout == b"from the cache\n"


def test_a_cache_others_can_write_is_never_read(tmp_path):
    trust(tmp_path, RUNTIME)
    payload = bootstrap.pack(zlib.compress(RUNTIME), "x")
    run_gate(tmp_path, payload)
    [cached] = (tmp_path / "cache").iterdir()
    cached.write_bytes(marshal.dumps(compile("def main():\n    print('evil')\n", "x", "exec")))
    os.chmod(cached, 0o666)
    assert run_gate(tmp_path, payload).stdout == b"ran for ops"  # compiled afresh, replaced
    assert cached.stat().st_mode & 0o777 == 0o644
    os.chmod(tmp_path / "cache", 0o777)
    (tmp_path / "cache" / cached.name).write_bytes(marshal.dumps(compile(
        "def main():\n    print('evil')\n", "x", "exec")))
    os.chmod(tmp_path / "cache" / cached.name, 0o644)
    assert run_gate(tmp_path, payload).stdout == b"ran for ops"  # its folder is not root's alone


def test_configured_changes_only_the_path_constants():
    from orch.runtime import gate

    shipped = GATE.read_text()
    copy = gate.configured(TRUSTED_DIR="/lab/t", AUDIT_LOG="/lab/a", STATE_DIR="/lab/s",
                           CACHE_DIR="/lab/c", LAB_DIR="/lab")
    changed = [(old, new) for old, new in zip(shipped.splitlines(), copy.splitlines(), strict=True)
               if old != new]
    assert [new for _, new in changed] == ["TRUSTED_DIR = '/lab/t'", "AUDIT_LOG = '/lab/a'",
                                           "STATE_DIR = '/lab/s'", "CACHE_DIR = '/lab/c'",
                                           "LAB_DIR = '/lab'"]
    with pytest.raises(ValueError):
        gate.configured(SUDO="/tmp/sudo")
