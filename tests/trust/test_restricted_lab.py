"""The restricted lab itself (``orch lab up --restricted [root|sudo]``, orch/lab/restricted.py).

bench/restricted_cost.py measures restricted mode on these labs, so what they are must hold:
with the default root login the lab key is root's and runs only the gate, with no sudo rule
and no way in as the login user; with ``sudo`` the key is the login user's and the gate
escalates through a sudo rule of its own, which ``orch lab down`` removes. Both answer calls in
restricted mode, and a plain ssh command runs the gate instead of the command.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import (
    lab_prerequisites_missing,
    make_lab_dirs,
    run_orch,
    start_lab,
    stop_lab,
)

pytestmark = pytest.mark.lab


@pytest.fixture(params=["root", "sudo"])
def rlab(request):
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    lab_dir, workdir = make_lab_dirs(f"orch-rlab-{request.param}-")
    try:
        lab = start_lab(lab_dir, workdir, n=1, extra=("--restricted", request.param))
        lab.login = request.param
        yield lab
    finally:
        stop_lab(lab_dir, workdir)
        if request.param == "sudo":
            assert not sudo_rules(lab_dir), "lab down left the lab's sudo rule behind"


def sudo_rules(lab_dir: Path) -> list[Path]:
    return [path for path in Path("/etc/sudoers.d").iterdir()
            if str(lab_dir) in path.read_text(errors="replace")]


def ssh(lab, user: str, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", "/dev/null", "-i", str(Path(lab.dir) / "client_key"), "-p", str(lab.port),
         "-o", f"UserKnownHostsFile={Path(lab.dir) / 'known_hosts'}", "-o", "BatchMode=yes",
         "-o", "IdentitiesOnly=yes", f"{user}@{lab.hosts['dev1']}", command],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_the_restricted_lab_answers_in_restricted_mode_as_the_keys_operator(rlab):
    result = run_orch(["call", "rpcutil.inventory", "-I", "dev1", "--json"], rlab.workdir,
                      check=True)
    [reply] = [event for event in map(json.loads, result.stdout.splitlines())
               if event["type"] == "HostReplied"]
    assert reply["status"] == "OK"
    assert reply["data"]["mode"] == "restricted"
    assert reply["data"]["facts"]["identity"]["user"] == "root"
    audit = (Path(rlab.dir) / "hosts" / "dev1" / "audit.log").read_text().splitlines()
    assert "caller=labadmin agent=rpcutil action=inventory" in audit[-1]
    assert audit[-1].endswith("result=allowed reason=policy status=OK")


def test_the_login_and_the_forced_command_are_what_the_variant_says(rlab):
    keys = (Path(rlab.dir) / "authorized_keys").read_text()
    inventory = rlab.inventory.read_text()
    if rlab.login == "root":
        assert keys.startswith('restrict,command="/usr/bin/python3 -I -S ')
        assert "ansible_user: root" in inventory
        assert rlab.settings["login"] == "root"
        assert "PermitRootLogin forced-commands-only" in (
            Path(rlab.dir) / "sshd_config").read_text()
        assert not sudo_rules(rlab.dir)
        # root's home for the lab's sshd is the lab's, with Debian's dotfiles, not this machine's
        home = Path(rlab.dir) / "root-home"
        assert (home / ".bashrc").read_text() == Path(
            "/usr/share/base-files/dot.bashrc").read_text()
        assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (0, 0o700)
    else:
        assert keys.startswith('restrict,command="/usr/bin/sudo -n -- /usr/bin/python3 -I -S ')
        assert f"ansible_user: {rlab.user}" in inventory
        assert rlab.settings["login"] == rlab.user
        [rule] = sudo_rules(rlab.dir)
        assert f"{rlab.user} ALL=(root) NOPASSWD: " in rule.read_text()


def test_a_plain_ssh_command_runs_the_gate_not_the_command(rlab, tmp_path):
    marker = Path("/tmp") / f"orch-rlab-marker-{rlab.login}"
    marker.unlink(missing_ok=True)
    user = "root" if rlab.login == "root" else rlab.user
    done = ssh(rlab, user, f"touch {marker}")
    assert done.returncode != 0
    assert "orch gate: input ended before an orch payload" in done.stderr
    assert not marker.exists()
    audit = (Path(rlab.dir) / "hosts" / "dev1" / "audit.log").read_text().splitlines()
    assert "result=refused" in audit[-1]


def test_the_key_gets_no_shell_as_the_other_user(rlab):
    """Root login: logging in as the login user runs the gate too (it cannot escalate: no
    sudo rule). Sudo: sshd refuses root outright."""
    other = rlab.user if rlab.login == "root" else "root"
    done = ssh(rlab, other, "id")
    assert done.returncode != 0
    assert "uid=" not in done.stdout
