"""orch.transport.sshlib: the asyncssh adjustments are applied exactly where they were checked."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys

from orch.transport import sshlib


def test_finds_libraries_without_running_ldconfig_or_gcc():
    assert sshlib.find_library_in_dirs("c") == "libc.so.6"
    assert sshlib.find_library_in_dirs("orch-no-such-library") is None
    assert ctypes.util.find_library is not sshlib.find_library_in_dirs  # restored after import


def test_release_parsing():
    assert sshlib.asyncssh_release("2.24.1") == (2, 24)
    assert sshlib.asyncssh_release("3.0") == (3, 0)
    assert sshlib.asyncssh_release("garbage") == (0, 0)


def _applied(env: dict) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from orch.transport import sshlib; print(','.join(sshlib.APPLIED))"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_every_adjustment_applies_to_the_release_it_was_checked_against():
    release = sshlib.asyncssh_release(sshlib.asyncssh.__version__)
    expected = ("no-x509,sign-first,publickey-before-none,no-ignore-with-aead,lazy-packet-log,"
                "quiet-log,prepared-options" if release == sshlib.TUNED_FOR else "no-x509")
    assert _applied({"ORCH_SSH_TUNING": "1"}) == expected


def test_tuning_can_be_switched_off():
    assert _applied({"ORCH_SSH_TUNING": "0"}) == ""


def _loaded(env: dict) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from orch.transport import sshlib; "
         "print(' '.join(m for m in sys.modules if m.startswith('cryptography.x509')))"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_x509_support_is_not_loaded_unless_tuning_is_off():
    assert _loaded({"ORCH_SSH_TUNING": "1"}) == set()
    assert "cryptography.x509" in _loaded({"ORCH_SSH_TUNING": "0"})
