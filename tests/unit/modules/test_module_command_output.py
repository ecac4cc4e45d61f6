"""command.run's output through the kit's runner: caps, the end of stderr, background children."""

from __future__ import annotations

import os
import time

import pytest
from collection_support import InProcessHost


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def test_a_failure_quotes_the_end_of_stderr_even_past_the_cap(node):
    reply = node.call("command", "run", {"argv": [
        "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x >&2; echo '  last words' >&2; exit 4"]})
    assert reply["status"] == "Aborted"
    assert reply["message"].startswith("sh exited with 4: xxx")
    assert reply["message"].endswith("x  last words")
    assert len(reply["message"]) == len("sh exited with 4: ") + 2000 - 1


def test_stderr_alone_is_capped(node):
    data = node.ok("command", "run", {"argv": ["sh", "-c", "head -c 100000 /dev/zero >&2"]})
    assert len(data["stderr"]) == 64 * 1024 and data["stderr_truncated"] is True
    assert data["stdout"] == "" and data["stdout_truncated"] is False


def test_a_background_child_keeping_stdout_does_not_hold_the_reply(node, tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.time()
    data = node.ok("command", "run", {
        "argv": ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; echo started"], "timeout": 20})
    try:
        assert time.time() - started < 5 and data["stdout"] == "started\n"
    finally:
        os.kill(int(pidfile.read_text()), 9)
