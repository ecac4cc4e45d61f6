"""angelianotify module posting to the lab's real webhook receiver (orch/lab/webhook.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from module_support import Aborted, free_port, load_module

WEBHOOK = Path(__file__).resolve().parents[3] / "orch" / "lab" / "webhook.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


@pytest.fixture
def receiver(tmp_path):
    port = free_port()
    out = tmp_path / "received.jsonl"
    process = subprocess.Popen([PYTHON, str(WEBHOOK), "--address", "127.0.0.1", "--port", str(port),
                                "--out", str(out), "--pidfile", str(tmp_path / "webhook.pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    yield {"config": {"angelianotify": {"url": url, "timeout": 5}}, "out": out}
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def received(out: Path) -> list:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_sendmsg_posts_message_the_receiver_records(receiver, call):
    data = call("angelianotify", "sendmsg",
                {"recipient": "rip", "subject": "upgrade",
                 "message": "rip updated 4 node cluster bravo to revision 20"},
                receiver["config"], name="notify1")
    assert data["code"] == 200
    assert received(receiver["out"]) == [{
        "recipient": "rip", "subject": "upgrade", "sender": "notify1",
        "message": "rip updated 4 node cluster bravo to revision 20"}]


def test_receiver_down_is_aborted_with_reason(receiver, call):
    closed = {"angelianotify": {"url": f"http://127.0.0.1:{free_port()}/", "timeout": 2}}
    with pytest.raises(Aborted, match="cannot reach webhook .*Connection refused"):
        call("angelianotify", "sendmsg", {"recipient": "rip", "message": "hi"}, closed)
    with pytest.raises(Aborted, match=r"no webhook configured for this host: set "
                                      r"config.angelianotify.url in /nonexistent/host.json$"):
        call("angelianotify", "sendmsg", {"recipient": "rip", "message": "hi"}, {})


@pytest.mark.parametrize("args", [
    {"recipient": "rip; rm -rf /", "message": "hi"},
    {"recipient": "$(id)", "message": "hi"},
    {"recipient": "rip", "message": "hi\x1b[2J"},
    {"recipient": "rip", "message": "hi", "subject": "two\nlines"},
])
def test_declared_validation_rejects_metacharacters_and_control_characters(args):
    inputs = load_module("angelianotify")["AGENT"]["actions"]["sendmsg"]["inputs"]
    assert not all(re.search(inputs[key]["validation"], value) for key, value in args.items())


def test_every_ordinary_message_passes_validation():
    inputs = load_module("angelianotify")["AGENT"]["actions"]["sendmsg"]["inputs"]
    assert re.search(inputs["message"]["validation"], "rip updated 4 node cluster bravo to revision 20\nthanks: it's done (100%)")
    assert re.search(inputs["recipient"]["validation"], "ops-team@example.org")
