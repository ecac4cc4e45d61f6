"""command.run through the real runtime request path, running real programs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from collection_support import InProcessHost


@pytest.fixture
def node(tmp_path):
    return InProcessHost(tmp_path / "state")


def test_command_string_is_split_not_given_to_a_shell(node):
    data = node.ok("command", "run", {"command": "echo $HOME; id 'two words'  \"x y\""})
    assert data["stdout"] == "$HOME; id two words x y\n"
    assert data["rc"] == 0 and data["changed"] is True and data["stderr"] == ""


def test_argv_keeps_words_as_given(node):
    data = node.ok("command", "run", {"argv": ["printf", "%s|", "a b", "$(id)", "'q'"]})
    assert data["stdout"] == "a b|$(id)|'q'|"


def test_exit_codes_and_ok_codes(node):
    reply = node.call("command", "run", {"argv": ["sh", "-c", "echo boom >&2; exit 3"]})
    assert reply["status"] == "Aborted"
    assert reply["message"] == "sh exited with 3: boom"
    data = node.ok("command", "run", {"argv": ["sh", "-c", "echo boom >&2; exit 3"],
                                      "ok_codes": [0, 3]})
    assert data["rc"] == 3 and data["stderr"] == "boom\n"
    # As typed on a command line: "0,3" arrives as a list of strings.
    data = node.ok("command", "run", {"argv": ["false"], "ok_codes": ["1"]})
    assert data["rc"] == 1
    reply = node.call("command", "run", {"command": "no-such-program-here"})
    assert reply["status"] == "Aborted" and "cannot run no-such-program-here" in reply["message"]


def test_creates_and_removes_skip_as_ansible_does(node, tmp_path):
    marker = tmp_path / "done"
    touch = {"argv": ["touch", str(marker)], "creates": str(marker)}
    first = node.ok("command", "run", touch)
    assert first["changed"] is True and marker.exists() and first["skipped"] is False
    second = node.ok("command", "run", touch)
    assert second == dict(second, changed=False, skipped=True, rc=None,
                          message=f"skipped: {marker} exists")
    remove = {"argv": ["rm", str(marker)], "removes": str(marker)}
    assert node.ok("command", "run", remove)["changed"] is True and not marker.exists()
    again = node.ok("command", "run", remove)
    assert again["changed"] is False and again["message"] == f"skipped: {marker} does not exist"


def test_stdin_reaches_the_command_and_never_the_audit_line(node):
    secret = "s3cr3t-" + os.urandom(6).hex()
    data = node.ok("command", "run", {"argv": ["sha256sum"], "stdin": secret})
    import hashlib

    assert data["stdout"].split()[0] == hashlib.sha256(secret.encode()).hexdigest()
    line = node.audit()[-1]
    assert "agent=command action=run" in line and '"stdin":"********"' in line
    assert secret not in (node.state_dir / "audit.log").read_text()


def test_large_stdin_and_output_do_not_deadlock_and_are_capped(node):
    text = "x" * 500_000
    data = node.ok("command", "run", {"argv": ["cat"], "stdin": text})
    assert len(data["stdout"]) == 64 * 1024 and data["stdout_truncated"] is True
    assert data["stderr_truncated"] is False


def test_timeout_kills_the_whole_process_group(node, tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.time()
    reply = node.call("command", "run", {
        "argv": ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"], "timeout": 1})
    assert time.time() - started < 10
    assert reply["status"] == "Aborted"
    assert reply["message"] == "sh timed out after 1s; its process group was killed"
    child = int(pidfile.read_text())
    deadline = time.time() + 5
    while Path(f"/proc/{child}").exists() and time.time() < deadline:
        state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{child}").exists() or state == "Z"


def test_the_request_timeout_also_kills_the_group(node, tmp_path):
    pidfile = tmp_path / "child.pid"
    reply = node.call("command", "run", {
        "argv": ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]}, timeout=1)
    assert reply["status"] == "UnknownError" and "timed out after 1s" in reply["message"]
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert (not Path(f"/proc/{child}").exists()
            or Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def test_cwd_and_env_on_a_minimal_environment(node, tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKED_SECRET", "nope")
    data = node.ok("command", "run", {"argv": ["sh", "-c", "pwd; env | sort"],
                                      "cwd": str(tmp_path), "env": {"GREETING": "hi there"}})
    lines = data["stdout"].splitlines()
    assert lines[0] == str(tmp_path)
    assert "GREETING=hi there" in lines and not any("LEAKED" in line for line in lines)
    reply = node.call("command", "run", {"argv": ["true"], "env": {"BAD NAME": "x"}})
    assert reply["status"] == "Aborted" and "is not a variable name" in reply["message"]
    reply = node.call("command", "run", {"argv": ["true"], "cwd": str(tmp_path / "nope")})
    assert reply["status"] == "Aborted" and "is not a folder" in reply["message"]


def test_check_mode_runs_nothing(node, tmp_path):
    marker = tmp_path / "made"
    data = node.ok("command", "run", {"argv": ["touch", str(marker)]}, check=True)
    assert data["changed"] is True and data["rc"] is None
    assert data["message"] == f"would run: touch {marker}"
    assert not marker.exists()
    marker.touch()
    skipped = node.ok("command", "run", {"argv": ["rm", str(marker)], "creates": str(marker)},
                      check=True)
    assert skipped["changed"] is False and skipped["skipped"] is True and marker.exists()


@pytest.mark.parametrize("args, status, field", [
    ({"command": "true", "argv": ["true"]}, "Aborted", None),
    ({}, "Aborted", None),
    ({"command": "echo 'unbalanced"}, "Aborted", None),
    ({"argv": ["true"], "cwd": "relative/path"}, "InvalidData", "cwd"),
    ({"argv": ["true"], "creates": "relative"}, "InvalidData", "creates"),
    ({"argv": ["true"], "ok_codes": ["zero"]}, "InvalidData", "ok_codes"),
    ({"argv": ["true"], "timeout": -1}, "InvalidData", "timeout"),
    ({"argv": ["true"], "shell": True}, "InvalidData", "shell"),
])
def test_bad_requests(node, args, status, field):
    reply = node.call("command", "run", args)
    assert reply["status"] == status, reply
    if field:
        assert f"'{field}'" in reply["message"]
