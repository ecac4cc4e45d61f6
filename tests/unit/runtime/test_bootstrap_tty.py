"""The first stage on a real pseudo-terminal (su and doas with a password): raw and 8-bit clean.

The stage runs under ``os.forkpty`` like under sshd's pty: stdin, stdout and stderr are the
terminal. After the ready marker every byte value, CR, LF, ^C, ^D, ^S, ^Q, ^V, DEL and lines far
past the canonical-mode limit of 4096 bytes must pass unchanged both ways, and nothing but what
the runtime writes on fd 1 may come back (stderr is off the terminal).
"""

import os
import select
import time
import zlib

from orch.rpc.become import READY, Become, needs_tty
from orch.runtime import bootstrap
from orch.runtime.core import encode_frame

PYTHON = "/usr/bin/python3"

# Reads the bytes the controller sends after the payload and writes them back with a prefix;
# writes on stderr, which must not reach the terminal.
ECHO_CORE = b'''
import json, os, struct, sys
def encode_frame(message):  # as core.encode_frame
    body = json.dumps(message, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return struct.pack(">I", len(body)) + body
def main():
    sys.stderr.write("noise on stderr\\n")
    sys.stderr.flush()
    os.write(2, b"raw noise on fd 2\\n")
    size = int(os.read(0, 8))
    data = b""
    while len(data) < size:
        data += os.read(0, size - len(data))
    os.write(1, b"got:" + data)
    if data.startswith(b"die"):
        sys.exit("orch runtime: cannot read /etc/orch/host.json: broken")
'''


def run_on_pty(source: str, after_ready: bytes, core: bytes = ECHO_CORE,
               timeout: float = 20) -> tuple[bytes, bytes, int]:
    """(what came before and including READY, what came after it, exit status)."""
    pid, master = os.forkpty()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        os.execv(PYTHON, [PYTHON, "-I", "-S", "-c", source])
    out = b""
    deadline = time.monotonic() + timeout
    sent = False
    try:
        while time.monotonic() < deadline:
            if not sent and READY in out:
                os.write(master, bootstrap.pack(zlib.compress(core), "no-such-python"))
                os.write(master, b"%08d" % len(after_ready))
                for start in range(0, len(after_ready), 1000):  # as the channel writes it
                    os.write(master, after_ready[start:start + 1000])
                sent = True
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        _, status = os.waitpid(pid, 0)
    head, marker, tail = out.partition(READY)
    return head + marker, tail, os.waitstatus_to_exitcode(status)


def every_byte_and_long_lines() -> bytes:
    special = b"\r\n\x03\x04\x11\x13\x16\x1a\x1c\x7f\x00\xff\r\r\n"
    return (bytes(range(256)) * 4 + special + b"x" * 5000 + b"\n" + b"\r" * 4100 + special
            + b"y" * 70000)


def test_every_byte_passes_both_ways_after_the_ready_marker():
    data = every_byte_and_long_lines()
    head, tail, status = run_on_pty(bootstrap.first_stage(True, tty=True), data)
    assert head == READY  # nothing before it: no echo, no stderr on the terminal
    assert status == 0
    assert tail == b"got:" + data  # no CR/LF translation, no line editing, no signals, 8 bits


def test_a_dying_runtime_says_why_in_a_stderr_frame():
    _, tail, status = run_on_pty(bootstrap.first_stage(True, tty=True), b"die now")
    assert status == 1
    assert tail.startswith(b"got:die now")
    frame = tail[len(b"got:die now"):]
    assert frame == encode_frame({"kind": "stderr",
                                  "text": "orch runtime: cannot read /etc/orch/host.json: broken"})
    assert b"noise" not in tail


def test_only_su_and_doas_with_a_password_get_a_terminal():
    assert needs_tty(Become(method="su"), "pw")
    assert needs_tty(Become(method="doas"), "pw")
    assert not needs_tty(Become(method="su"), None)
    assert not needs_tty(Become(method="doas"), None)
    assert not needs_tty(Become(method="sudo"), "pw")
    assert not needs_tty(None, "pw")


def test_sessions_without_a_terminal_keep_their_command():
    """Zero cost for everyone else: the commands without a terminal are those of before."""
    for python in (PYTHON, "auto"):
        assert bootstrap.command(python) == bootstrap.command(python, tty=True)
        for become in (Become(), Become(method="su"), Become(method="doas")):
            command = bootstrap.command(python, become, "[orch-become-1] password: ")
            assert "termios" not in command and "stderr" not in command
            assert command == bootstrap.command(python, become, "[orch-become-1] password: ",
                                                tty=False)
    plain = bootstrap.command(PYTHON, Become(method="doas"), "")
    assert " -n " in plain
    assert " -n " not in bootstrap.command(PYTHON, Become(method="doas"), "", tty=True)
    su = bootstrap.command(PYTHON, Become(method="su"), "", tty=True)
    assert su.startswith("exec su -s /bin/sh root -c ") and "termios" in su
