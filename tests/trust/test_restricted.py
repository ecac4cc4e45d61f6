"""Restricted mode on the realistic fleet (issue 17): each attempt a key holder could make, in
open mode first (where it works, which is the point of docs/trust.md), then after
``orch host init --restricted -b`` on web4, where each must fail and be audited.

web4 (NOPASSWD sudo, python at /opt/python) has its own /etc, /var/log and /usr/local/lib
layer (scripts/fleet.py ``own_system``), so /etc/orch, /var/log/orch and the gate are made
there, never on this machine. The module's teardown gives web4 its keys back and removes them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
import zlib
from pathlib import Path

import pytest

from orch.runtime import bootstrap, core

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.realfleet

PWN_MODULE = '''"""pwn: a module no host was told to trust."""
import os

AGENT = {"name": "pwn", "description": "not trusted", "version": "1.0", "author": "x",
         "license": "MIT", "timeout": 10,
         "actions": {"run": {"description": "id", "inputs": {},
                             "outputs": {"uid": {"description": "uid", "display_as": "uid"}}}}}


def run(request):
    return {"uid": os.getuid()}
'''


def orch(folder: Path, *argv: str, key: str | None = None, user: str | None = None,
         **kwargs) -> subprocess.CompletedProcess:
    environ = {key_: value for key_, value in os.environ.items() if not key_.startswith("ORCH_")}
    if user:
        environ.update(USER=user, LOGNAME=user)
    if key:
        environ["ORCH_SSH_KEY"] = key
    return subprocess.run([sys.executable, "-m", "orch", *argv], cwd=folder, env=environ,
                          capture_output=True, text=True, timeout=120, **kwargs)


class Lab:
    """web4 as the tests see it: its folders on this machine and the two operators' keys."""

    def __init__(self, fleet, folder: Path):
        self.fleet = fleet
        self.folder = folder
        self.web4 = fleet.hosts["web4"]
        self.host_dir = fleet.dir / "hosts" / "web4"
        self.ops_key = fleet.info["keys"]["inventory_key"]
        self.guest_key = str(folder / "guest_ed25519")
        self.keys_file = Path(self.web4["home"]) / ".ssh" / "authorized_keys"

    @property
    def audit(self) -> list[str]:
        path = self.host_dir / "var-log-upper" / "orch" / "audit.log"
        return path.read_text().splitlines() if path.exists() else []

    def policy(self, module: str) -> Path:
        return self.host_dir / "etc-upper" / "orch" / "policy" / f"{module}.policy"

    def ssh(self, command: str, payload: bytes = b"", key: str | None = None):
        argv = ["ssh", "-F", str(self.fleet.ssh_config), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-i", key or self.ops_key, "web4", command]
        return subprocess.run(argv, env=self.fleet.env(agent=False), input=payload,
                              capture_output=True, timeout=60)

    def call(self, *argv: str, key: str | None = None, user: str | None = None):
        return orch(self.folder, "call", *argv, "-I", "web4", "--json", key=key, user=user)


def replies(result) -> list[dict]:
    return [event for event in map(json.loads, result.stdout.splitlines())
            if event["type"] in ("HostReplied", "HostFailed")] if result.stdout else []


@pytest.fixture(scope="module")
def lab(fleet, tmp_path_factory):
    folder = tmp_path_factory.mktemp("trust")
    info = fleet.info
    lab = Lab(fleet, folder)
    original = add_guest_key(lab)
    (folder / "mods").mkdir()
    (folder / "mods" / "pwn.py").write_text(PWN_MODULE)
    (folder / "orch.cfg").write_text(
        f"[defaults]\ninventory = {folder / 'inv.ini'}\n"
        f"module_paths = {REPO / 'modules'}:{folder / 'mods'}\n"
        f"fact_cache = sqlite:///{folder / 'facts.db'}\njournal = sqlite:///{folder / 'journal.db'}\n"
        f"known_hosts = {folder / 'known_hosts'}\nssh_user = {info['login_user']}\n"
        f"ssh_key = {lab.ops_key}\n")
    (folder / "inv.ini").write_text(
        f"web4 ansible_host={lab.web4['address']} "
        f"ansible_python_interpreter={lab.web4['python']}\n")
    first = orch(folder, "call", "rpcutil.ping", "--accept-new", "-I", "web4")
    assert first.returncode == 0, first.stdout + first.stderr
    try:
        yield lab
    finally:
        undo_init(fleet, lab, original)


def add_guest_key(lab) -> str:
    """A second operator's key (guest), let in as the login user; returns the keys file before."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guest",
                    "-f", lab.guest_key], check=True)
    original = lab.keys_file.read_text()
    lab.keys_file.write_text(original + Path(lab.guest_key + ".pub").read_text())
    return original


def undo_init(fleet, lab, original: str) -> None:
    """web4 as before the module's tests: the login user's keys back, orch's files gone."""
    lab.keys_file.write_text(original)
    subprocess.run(["ssh", "-F", str(fleet.ssh_config), "-o", "BatchMode=yes",
                    "-i", lab.ops_key, "web4",
                    "sudo -n rm -rf /etc/orch /var/log/orch /usr/local/lib/orch "
                    "/etc/sudoers.d/orch-gate"],
                   env=fleet.env(agent=False), capture_output=True, timeout=60)


def modified_payload() -> bytes:
    source = bootstrap.CORE_PATH.read_bytes() + b"\n# one comment more: a different runtime\n"
    return bootstrap.pack(zlib.compress(source), sys.implementation.cache_tag), source


# --- open mode: what a key holder can do today ----------------------------------------------

def test_open_mode_a_plain_ssh_command_runs(lab):
    result = lab.ssh("echo ran-$((40+2))")
    assert result.returncode == 0 and result.stdout == b"ran-42\n"


def test_open_mode_a_modified_runtime_and_an_unknown_module_run(lab):
    payload, _ = modified_payload()
    started = lab.ssh(f"exec {lab.web4['python']} -I -S -c '{bootstrap.COMMAND}'", payload)
    hello = core.read_frame(io.BytesIO(started.stdout))
    assert hello["kind"] == "hello", started.stderr  # the modified runtime ran
    result = lab.call("pwn.run")
    assert [reply["status"] for reply in replies(result)] == ["OK"], result.stdout


def test_open_mode_the_policy_callers_and_audit_log_are_the_login_users(lab):
    result = lab.ssh("mkdir -p ~/.orch/policy && "
                     "printf 'policy default allow\\n' > ~/.orch/policy/command.policy && "
                     "echo 'SHA256:x ops' > ~/.orch/callers && echo forged >> ~/.orch/audit.log")
    assert result.returncode == 0, result.stderr
    state = Path(lab.web4["home"]) / ".orch"
    assert (state / "policy" / "command.policy").read_text() == "policy default allow\n"
    assert "forged" in (state / "audit.log").read_text().splitlines()
    for name in ("policy/command.policy", "callers"):
        (state / name).unlink()


def test_open_mode_denied_actions_run_and_the_caller_is_not_the_keys(lab):
    result = lab.call("command.run", "command=id -u", key=lab.guest_key, user="ops")
    [reply] = replies(result)
    assert reply["status"] == "OK", reply  # no policy binds the key holder
    assert reply["caller"] == lab.fleet.user  # not "guest" (the key), not "ops" (claimed)


# --- restricted mode ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def restricted(lab):
    result = orch(lab.folder, "host", "init", "-I", "web4", "-b", "--restricted",
                  "--caller", f"ops={lab.ops_key}.pub", "--caller", f"guest={lab.guest_key}.pub",
                  "--allow", "ops")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restrict,command=" in lab.keys_file.read_text()
    return lab


def test_the_honest_runtime_runs_as_the_operator_the_key_names(restricted):
    result = restricted.call("rpcutil.inventory")
    [reply] = replies(result)
    assert reply["status"] == "OK", result.stdout + result.stderr
    assert reply["data"]["mode"] == "restricted"
    assert reply["data"]["audit_log"] == "/var/log/orch/audit.log"
    assert reply["caller"] == "ops"
    lines = [line for line in restricted.audit if "action=inventory" in line]
    assert lines[-2].endswith("result=allowed reason=policy")
    assert lines[-1].endswith("result=allowed reason=policy status=OK")


def test_the_gate_needs_only_its_own_sudo_rule(restricted):
    rule = restricted.host_dir / "sudoers.d" / "orch-gate"
    assert rule.read_text().endswith(
        f"Cmnd_Alias ORCH_GATE = {restricted.web4['python']} -I -S "
        f"/usr/local/lib/orch/gate.pyc *\n"
        'Defaults!ORCH_GATE env_keep += "SSH_ORIGINAL_COMMAND"\n'
        f"{restricted.fleet.user} ALL=(root) NOPASSWD: ORCH_GATE\n")
    assert (f'restrict,command="/usr/bin/sudo -n -- {restricted.web4["python"]} -I -S '
            '/usr/local/lib/orch/gate.pyc ops" ') in restricted.keys_file.read_text()
    fleet_rule = restricted.host_dir / "sudoers.d" / "fleet"
    saved = fleet_rule.read_text()
    fleet_rule.unlink()  # no NOPASSWD ALL any more: only the gate's rule
    try:
        result = restricted.call("rpcutil.ping")
        assert [reply["status"] for reply in replies(result)] == ["OK"], result.stdout
        assert " status=OK" in restricted.audit[-1]  # root wrote it: the gate became root
    finally:
        fleet_rule.write_text(saved)
        os.chmod(fleet_rule, 0o440)


def test_a_plain_ssh_command_runs_the_gate_not_the_command(restricted):
    marker = Path("/tmp") / f"trust-{uuid.uuid4().hex}"
    result = restricted.ssh(f"touch {marker}; echo ran")
    assert result.returncode != 0 and b"ran" not in result.stdout
    assert b"orch gate: input ended before an orch payload" in result.stderr
    assert not marker.exists()
    assert "result=refused" in restricted.audit[-1] and "caller=ops" in restricted.audit[-1]


def test_a_modified_runtime_is_refused_naming_its_hash(restricted):
    payload, source = modified_payload()
    digest = hashlib.sha256(source).hexdigest()
    result = restricted.ssh("exec /usr/bin/python3 -c anything", payload)
    assert result.returncode == 1
    assert f"runtime sha256 {digest} is not trusted".encode() in result.stderr
    assert "result=refused" in restricted.audit[-1] and digest in restricted.audit[-1]


def test_an_unknown_module_is_refused_and_audited(restricted):
    source = PWN_MODULE.encode()
    digest = hashlib.sha256(source).hexdigest()
    result = restricted.call("pwn.run")
    [reply] = replies(result)
    assert reply["status"] == "Aborted"
    assert f"module pwn sha256 {digest} is not trusted" in reply["message"]
    assert " agent=pwn action=run " in restricted.audit[-1]
    assert " result=refused " in restricted.audit[-1]


def test_the_policy_and_audit_log_cannot_be_changed_over_the_key(restricted):
    before = restricted.policy("command").read_text()
    callers = restricted.host_dir / "etc-upper" / "orch" / "callers"
    callers_before = callers.read_text()
    log = restricted.audit
    result = restricted.ssh("rm -f /etc/orch/policy/command.policy; "
                            "echo 'SHA256:x ops' > /etc/orch/callers; "
                            "echo forged >> /var/log/orch/audit.log")
    assert result.returncode != 0
    assert restricted.policy("command").read_text() == before
    assert callers.read_text() == callers_before and " guest\n" in callers_before
    assert "policy default deny" in before
    assert not any("forged" == line for line in restricted.audit)
    assert len(restricted.audit) == len(log) + 1  # the gate's refusal


def test_a_denied_action_and_a_forged_caller_are_denied_and_audited(restricted):
    result = restricted.call("file.remove", "path=/etc/orch/policy/command.policy",
                             key=restricted.guest_key, user="ops")
    [reply] = replies(result)
    assert reply["status"] == "Aborted" and "denied" in reply["message"], reply
    assert restricted.policy("command").exists()
    line = restricted.audit[-1]
    assert " caller=guest " in line and " result=denied " in line  # not the USER it claimed
    result = restricted.call("command.run", "command=id", key=restricted.guest_key, user="ops")
    assert [reply["status"] for reply in replies(result)] == ["Aborted"]
    assert " caller=guest " in restricted.audit[-1]
    assert " result=denied " in restricted.audit[-1]


def test_making_a_root_user_is_denied_to_an_operator_not_in_the_policy(restricted):
    """user and group can make their caller root (uid 0, group sudo): denied like command."""
    for argv in (("user.present", "name=evil", "uid=0", "groups=sudo", "-b"),
                 ("group.absent", "name=sudo", "-b")):
        result = restricted.call(*argv, key=restricted.guest_key)
        assert replies(result), (result.returncode, result.stdout, result.stderr)
        [reply] = replies(result)
        assert reply["status"] == "Aborted" and "denied" in reply["message"], reply
        assert " caller=guest " in restricted.audit[-1]
        assert " result=denied " in restricted.audit[-1]


def test_orch_host_trust_pins_a_new_module(restricted):
    result = orch(restricted.folder, "host", "trust", "pwn", "-I", "web4", "-b")
    assert result.returncode == 0, result.stdout + result.stderr
    result = restricted.call("pwn.run")
    [reply] = replies(result)
    assert reply["status"] == "OK" and reply["data"]["uid"] == 0, reply


def test_a_changed_module_is_refused_naming_its_hash_until_trusted(restricted):
    folder = restricted.folder / "changed"
    folder.mkdir()
    source = (REPO / "modules" / "nrpe.py").read_text() + "# one line more\n"
    (folder / "nrpe.py").write_text(source)
    (folder / "orch.cfg").write_text((restricted.folder / "orch.cfg").read_text().replace(
        "module_paths = ", f"module_paths = {folder}:"))
    digest = hashlib.sha256(source.encode()).hexdigest()
    result = orch(folder, "call", "nrpe.runcommand", "command=check_load", "-I", "web4")
    assert result.returncode == 1
    assert f"web4: Aborted: module nrpe sha256 {digest} is not trusted on this host" in result.stdout
    assert " agent=nrpe " in restricted.audit[-1] and " result=refused " in restricted.audit[-1]
    trusted = orch(folder, "host", "trust", "nrpe", "-I", "web4", "-b", "--batch", "1")
    assert trusted.returncode == 0, trusted.stdout + trusted.stderr
    assert (restricted.host_dir / "etc-upper" / "orch" / "trusted.d" / digest).exists()
    result = orch(folder, "call", "nrpe.runcommand", "command=check_load", "-I", "web4")
    assert "is not trusted" not in result.stdout, result.stdout
