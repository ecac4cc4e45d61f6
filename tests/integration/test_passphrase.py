"""A key file protected by a passphrase, as an operator without ssh-agent has one: orch asks for
the passphrase once per file per run on the terminal (/dev/tty, never argv or environment),
connects with it, and says clearly what to do when it is wrong or there is no terminal.

Real parts: the lab's sshd and its own client key, copied and encrypted by ``ssh-keygen -p``;
orch runs on a real pseudo-terminal (``pty.fork``) the way an operator types the passphrase.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import orch_command, run_orch, write_orch_cfg

pytestmark = pytest.mark.lab

PASSPHRASE = "correct horse 42"


@pytest.fixture(scope="module")
def work(lab, tmp_path_factory):
    """A work folder whose inventory reaches dev1 and dev2 only with an encrypted key file."""
    folder = tmp_path_factory.mktemp("passphrase")
    key = folder / "locked_key"
    shutil.copy(lab.client_key, key)
    key.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", PASSPHRASE, "-f", str(key)],
                   check=True, capture_output=True, timeout=30)
    hosts = {}
    for name in ("dev1", "dev2"):
        hosts[name] = {"ansible_host": lab.hosts[name], "ansible_port": lab.port,
                       "ansible_user": lab.user, "ansible_ssh_private_key_file": str(key)}
    inventory = folder / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    cfg = write_orch_cfg(folder, lab.dir, inventory)
    cfg.write_text(cfg.read_text() + 'ssh_config = ""\n')
    return folder


def clean_env() -> dict[str, str]:
    """No ssh-agent, no ORCH_* settings from the test runner."""
    return {key: value for key, value in os.environ.items()
            if not key.startswith("ORCH_") and key != "SSH_AUTH_SOCK"}


def on_terminal(work: Path, argv: list[str], answers: list[str], timeout: float = 60):
    """Run orch on a new pseudo-terminal, typing each answer after each passphrase prompt.

    Returns (exit code, everything the terminal showed, number of prompts seen)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: orch, with the pty as its controlling terminal
        os.chdir(work)
        os.execvpe(orch_command()[0], orch_command() + argv, clean_env())
    shown, prompts, deadline = b"", 0, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            while shown.count(b"Enter passphrase for key") > prompts:
                os.write(fd, answers[min(prompts, len(answers) - 1)].encode() + b"\n")
                prompts += 1
        else:
            os.kill(pid, 9)
            pytest.fail(f"orch did not finish in {timeout} s; the terminal showed: {shown!r}")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace"), prompts


def test_the_passphrase_is_asked_once_on_the_terminal_and_the_call_succeeds(work):
    code, shown, prompts = on_terminal(work, ["call", "rpcutil.ping"], [PASSPHRASE])
    assert code == 0, shown
    assert prompts == 1  # one key file, two hosts: asked once per run
    assert "locked_key" in shown and "dev1" in shown and "dev2" in shown
    assert PASSPHRASE not in shown  # getpass does not echo it


def test_a_wrong_passphrase_is_asked_again_as_ssh_does(work):
    code, shown, prompts = on_terminal(work, ["call", "rpcutil.ping"], ["typo", PASSPHRASE])
    assert code == 0 and prompts == 2, shown


def test_three_wrong_passphrases_fail_every_host_of_that_key_saying_so(work):
    code, shown, prompts = on_terminal(work, ["call", "rpcutil.ping"], ["not it"])
    assert code != 0 and prompts == 3, shown  # three tries for the file, not three per host
    assert shown.count("Incorrect passphrase") >= 2 and "locked_key" in shown, shown
    assert "Traceback" not in shown


def test_without_a_terminal_the_key_is_refused_with_what_to_do(work):
    done = subprocess.run(orch_command() + ["call", "rpcutil.ping"], cwd=work, env=clean_env(),
                          capture_output=True, text=True, timeout=60, start_new_session=True,
                          stdin=subprocess.DEVNULL)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "protected by a passphrase" in output and "ssh-add" in output, output
    assert "Traceback" not in output


def test_the_passphrase_is_in_no_log_journal_or_fact_cache(work):
    code, shown, _ = on_terminal(work, ["call", "rpcutil.ping", "--json"], [PASSPHRASE])
    assert code == 0, shown
    for path in work.rglob("*"):
        if path.is_file():
            assert PASSPHRASE.encode() not in path.read_bytes(), path
    runs = run_orch(["runs", "--json"], work, env={"SSH_AUTH_SOCK": ""})
    assert PASSPHRASE not in runs.stdout
