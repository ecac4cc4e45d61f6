"""Restricted mode with a root login (``orch host init --restricted --root-login -b``) on the
realistic fleet: the orch key logs in as root with the gate as its forced command in root's
own authorized_keys (no sudo per login, nothing the login user could undo).

web4 (its own /etc, /var/log, /usr/local/lib and /root; sshd ``PermitRootLogin
prohibit-password``, root in AllowUsers) is made restricted this way; web3 keeps
``PermitRootLogin no`` (scripts/fleet.py ``ROOT_LOGIN_REFUSED``) and must be refused with
nothing changed. The module's teardown gives web4 its login user's keys back and removes
what init made, root's keys included.
"""

from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from test_restricted import Lab, add_guest_key, modified_payload, orch, replies, undo_init

pytestmark = pytest.mark.realfleet

REPO = Path(__file__).resolve().parents[2]


class RootLab(Lab):
    """web4 as in test_restricted, plus a second orch folder whose inventory logs in as root."""

    def __init__(self, fleet, folder: Path):
        super().__init__(fleet, folder)
        self.root_folder = folder / "as-root"
        self.root_keys = Path(fleet.hosts["web4"]["root_home"]) / ".ssh" / "authorized_keys"
        self.sudo_rule = self.host_dir / "sudoers.d" / "orch-gate"

    def ssh_as(self, user: str, command: str, payload: bytes = b"", key: str | None = None):
        argv = ["ssh", "-F", str(self.fleet.ssh_config), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", "IdentitiesOnly=yes",
                "-i", key or self.ops_key, "-l", user, "web4", command]
        return subprocess.run(argv, env=self.fleet.env(agent=False), input=payload,
                              capture_output=True, timeout=60)

    def call_root(self, *argv: str, key: str | None = None, user: str | None = None):
        return orch(self.root_folder, "call", *argv, "-I", "web4", "--json", key=key, user=user)

    def init(self, folder: Path, *extra: str) -> subprocess.CompletedProcess:
        return orch(folder, "host", "init", "-I", "web4", "--restricted", "--root-login",
                    "--caller", f"ops={self.ops_key}.pub",
                    "--caller", f"guest={self.guest_key}.pub", "--allow", "ops", *extra)


def host_replied(result) -> dict:
    [reply] = [event for event in map(json.loads, result.stdout.splitlines())
               if event["type"] == "HostReplied"]
    return reply


@pytest.fixture(scope="module")
def lab(fleet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rootlogin")
    info = fleet.info
    lab = RootLab(fleet, folder)
    original = add_guest_key(lab)
    config = (f"[defaults]\ninventory = {{inventory}}\nmodule_paths = {REPO / 'modules'}\n"
              f"fact_cache = sqlite:///{folder / 'facts.db'}\n"
              f"journal = sqlite:///{folder / 'journal.db'}\n"
              f"known_hosts = {folder / 'known_hosts'}\nssh_user = {info['login_user']}\n"
              f"ssh_key = {lab.ops_key}\n")
    host = (f"web4 ansible_host={lab.web4['address']} "
            f"ansible_python_interpreter={lab.web4['python']}")
    lab.root_folder.mkdir()
    for where, line in ((folder, host), (lab.root_folder, host + " ansible_user=root")):
        (where / "inv.ini").write_text(line + "\n")
        (where / "orch.cfg").write_text(config.format(inventory=where / "inv.ini"))
    first = orch(folder, "call", "rpcutil.ping", "--accept-new", "-I", "web4")
    assert first.returncode == 0, first.stdout + first.stderr
    try:
        yield lab
    finally:
        undo_init(fleet, lab, original)
        lab.root_keys.unlink(missing_ok=True)


def test_check_mode_changes_nothing(lab):
    before = lab.keys_file.read_text()
    result = lab.init(lab.folder, "-b", "--check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    reply = host_replied(result)
    assert reply["data"]["changed"] is True and reply["data"]["login_user"] == "root"
    assert "/root/.ssh/authorized_keys" in reply["data"]["created"]
    assert not lab.root_keys.exists()
    assert lab.keys_file.read_text() == before
    assert not (lab.host_dir / "etc-upper" / "orch").exists()


def test_a_host_whose_sshd_refuses_root_is_refused_and_left_alone(lab, fleet):
    web3 = fleet.hosts["web3"]
    assert web3["permit_root_login"] == "no"
    keys = Path(web3["home"]) / ".ssh" / "authorized_keys"
    before = keys.read_text()
    public = lab.folder / "agent.pub"
    public.write_text(fleet.info["keys"]["agent_public"] + "\n")
    work = lab.folder / "web3"
    work.mkdir()
    (work / "orch.cfg").write_text(f"[defaults]\njournal = sqlite:///{work / 'journal.db'}\n"
                                   f"fact_cache = sqlite:///{work / 'facts.db'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "orch", "host", "init", "-i", str(fleet.inventory), "-I", "web3",
         "-b", "--restricted", "--root-login", "--caller", f"ops={public}"],
        cwd=work, env=fleet.env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("web3: Aborted: root login: sshd has PermitRootLogin no (needs prohibit-password, "
            "forced-commands-only or yes); nothing was changed") in result.stdout, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert keys.read_text() == before
    assert not (fleet.dir / "hosts" / "web3" / "etc-upper" / "orch").exists()
    assert list((Path(web3["root_home"]) / ".ssh").iterdir()) == []


@pytest.fixture(scope="module")
def rootlogin(lab):
    result = lab.init(lab.folder, "-b")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Log in as root" in result.stdout  # the operator is told to switch to root
    return lab


def test_a_plain_ssh_as_root_runs_the_gate_not_the_command(rootlogin):
    marker = Path("/tmp") / f"rootlogin-{uuid.uuid4().hex}"
    result = rootlogin.ssh_as("root", f"touch {marker}; echo ran")
    assert result.returncode != 0 and b"ran" not in result.stdout
    assert b"orch gate: input ended before an orch payload" in result.stderr
    assert not marker.exists()
    assert "result=refused" in rootlogin.audit[-1] and "caller=ops" in rootlogin.audit[-1]


def test_the_honest_runtime_as_root_is_restricted_and_the_key_names_the_caller(rootlogin):
    result = rootlogin.call_root("rpcutil.inventory")
    [reply] = replies(result)
    assert reply["status"] == "OK", result.stdout + result.stderr
    assert reply["data"]["mode"] == "restricted" and reply["caller"] == "ops"
    lines = [line for line in rootlogin.audit if "action=inventory" in line]
    assert lines[-2].endswith("result=allowed reason=policy")
    assert lines[-1].endswith("result=allowed reason=policy status=OK")


def test_a_denied_action_as_root_is_denied_and_audited(rootlogin):
    result = rootlogin.call_root("file.remove", "path=/etc/orch/policy/command.policy",
                                 key=rootlogin.guest_key, user="ops")
    [reply] = replies(result)
    assert reply["status"] == "Aborted" and "denied" in reply["message"], reply
    assert rootlogin.policy("command").exists()
    assert " caller=guest " in rootlogin.audit[-1] and " result=denied " in rootlogin.audit[-1]


def test_a_modified_runtime_as_root_is_refused_naming_its_hash(rootlogin):
    payload, source = modified_payload()
    digest = hashlib.sha256(source).hexdigest()
    result = rootlogin.ssh_as("root", "exec /usr/bin/python3 -c anything", payload)
    assert result.returncode == 1
    assert f"runtime sha256 {digest} is not trusted".encode() in result.stderr
    assert "result=refused" in rootlogin.audit[-1] and digest in rootlogin.audit[-1]


def test_the_key_no_longer_logs_in_as_the_login_user_and_no_sudo_rule_is_left(rootlogin):
    user = rootlogin.fleet.user
    result = rootlogin.ssh_as(user, "echo in")
    assert result.returncode == 255 and b"Permission denied" in result.stderr, result.stderr
    ops = Path(rootlogin.ops_key + ".pub").read_text().split()[1]
    assert ops not in rootlogin.keys_file.read_text()
    info = rootlogin.root_keys.lstat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o600)
    folder = rootlogin.root_keys.parent.lstat()
    assert (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (0, 0o700)
    python = rootlogin.web4["python"]
    assert (f'restrict,command="{python} -I -S /usr/local/lib/orch/gate.pyc ops" '
            f"ssh-ed25519 {ops}\n") in rootlogin.root_keys.read_text()
    assert not rootlogin.sudo_rule.exists()
    result = rootlogin.call_root("rpcutil.ping")
    assert [reply["status"] for reply in replies(result)] == ["OK"], result.stdout
    assert " status=OK" in rootlogin.audit[-1]


def test_init_again_as_root_removes_an_old_sudo_rule_then_changes_nothing(rootlogin):
    rootlogin.sudo_rule.write_text("# an earlier 'orch host init --restricted'\n")
    rootlogin.sudo_rule.chmod(0o440)
    result = rootlogin.init(rootlogin.root_folder, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = host_replied(result)["data"]
    assert data["removed"] == ["/etc/sudoers.d/orch-gate"] and data["changed"] is True
    assert not rootlogin.sudo_rule.exists()
    again = rootlogin.init(rootlogin.root_folder, "--json")
    data = host_replied(again)["data"]
    assert data["changed"] is False, data
    assert data["login_user"] == "root"
