"""The collection's command and file modules through ``orch call`` on the real lab (sshd, the
unprivileged ``orchlab`` login), on files under the lab hosts' own state folders."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import pytest

pytestmark = pytest.mark.lab


@pytest.fixture
def lab(lab):
    """The lab, once the controller's registry reads the collection's declarations."""
    described = lab.orch("agents", "command")
    if described.code != 0:
        pytest.fail(f"orch agents command failed: {described.stderr.strip()}")
    return lab


def replies(result) -> dict:
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {event["host"]: event for event in events if event.get("type") == "HostReplied"}


def test_command_runs_without_a_shell_on_each_host(lab):
    result = lab.orch("call", "command.run", "command=echo $HOME; id 'a b'", "-I", "dev1",
                      "-I", "dev2", "--json", check=0)
    got = replies(result)
    assert set(got) == {"dev1", "dev2"}
    for reply in got.values():
        assert reply["status"] == "OK" and reply["data"]["stdout"] == "$HOME; id a b\n"
        assert reply["data"]["rc"] == 0 and reply["data"]["changed"] is True


def test_command_creates_stdin_exit_codes(lab):
    marker = lab.state_dir("dev1") / f"made-{uuid.uuid4().hex[:8]}"
    touch = ("call", "command.run", f"argv=[\"touch\", \"{marker}\"]", f"creates={marker}",
             "-I", "dev1", "--json")
    first = replies(lab.orch(*touch, check=0))["dev1"]
    assert first["data"]["changed"] is True and marker.exists()
    second = replies(lab.orch(*touch, check=0))["dev1"]
    assert second["data"]["changed"] is False and second["data"]["skipped"] is True

    secret = "pw-" + uuid.uuid4().hex
    digest = replies(lab.orch("call", "command.run", "argv=sha256sum", f"stdin={secret}",
                              "-I", "dev1", "--json", check=0))["dev1"]
    assert digest["data"]["stdout"].split()[0] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in line for line in lab.audit_lines("dev1"))

    failed = lab.orch("call", "command.run", "argv=[\"sh\", \"-c\", \"echo nope >&2; exit 4\"]",
                      "-I", "dev1", check=1)
    assert "dev1: Aborted: sh exited with 4: nope" in failed.stdout


def test_file_write_is_idempotent_and_fetch_returns_it(lab):
    target = lab.state_dir("dev1") / f"motd-{uuid.uuid4().hex[:8]}"
    write = ("call", "file.write", f"path={target}", "content=hello lab\n", "mode=0640",
             "-I", "dev1", "--json")
    first = replies(lab.orch(*write, check=0))["dev1"]
    assert first["status"] == "OK" and first["data"]["changed"] is True
    assert target.read_text() == "hello lab\n" and target.stat().st_mode & 0o777 == 0o640
    assert first["data"]["owner"] == lab.user
    second = replies(lab.orch(*write, check=0))["dev1"]
    assert second["data"]["changed"] is False
    stat = replies(lab.orch("call", "file.stat", f"path={target}", "-I", "dev1", "--json",
                            check=0))["dev1"]["data"]
    assert stat["sha256"] == hashlib.sha256(b"hello lab\n").hexdigest() and stat["mode"] == "0640"
    fetched = replies(lab.orch("call", "file.fetch", f"path={target}", "-I", "dev1", "--json",
                               check=0))["dev1"]["data"]
    assert base64.b64decode(fetched["content_b64"]) == b"hello lab\n"
    removed = replies(lab.orch("call", "file.remove", f"path={target}", "-I", "dev1", "--json",
                               check=0))["dev1"]["data"]
    assert removed["changed"] is True and not target.exists()
