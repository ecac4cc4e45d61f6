"""``fleet``: the realistic fleet of scripts/fleet.py (issue 13 item 7), once per test session.

Real hosts in network namespaces (Debian's sshd, real sudo, a real login user), a bastion with a
host reachable only through it, a host whose python3 is elsewhere, and an operator folder with an
ssh-agent, ``~/.ssh/config`` and hashed known_hosts. The fixture runs ``fleet.py up`` and, at the
end of the session, ``fleet.py down``; see tests/realfleet/README.md. Tests that use it are
marked ``realfleet``. It skips only when not root or when this kernel cannot make the namespaces;
any other failure to build the fleet fails the tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLEET_SCRIPT = REPO / "scripts" / "fleet.py"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def fleet_unsupported() -> str | None:
    """Why the fleet cannot be built here (not root, no namespaces), or None when it can."""
    if os.geteuid() != 0:
        return (f"the realistic fleet needs root (network namespaces, users, sudo rules); "
                f"running as uid {os.geteuid()}")
    probe = f"fl-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"network namespaces unsupported here: ip netns add: {made.stderr.strip()}"
    try:
        inner = subprocess.run(["ip", "netns", "exec", probe, "unshare", "--uts", "--mount",
                                "true"], capture_output=True, text=True)
        if inner.returncode != 0:
            return f"UTS/mount namespaces unsupported here: unshare: {inner.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def fleet_script(command: str, fleet_dir: Path, env: dict | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess:
    """``python3 scripts/fleet.py COMMAND DIR`` (the same file a developer runs by hand)."""
    return subprocess.run([sys.executable, str(FLEET_SCRIPT), command, str(fleet_dir)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@dataclass
class Fleet:
    """A built fleet: its ``fleet.json`` and helpers that log in with the real OpenSSH client."""

    dir: Path
    info: dict

    @classmethod
    def load(cls, fleet_dir: Path) -> Fleet:
        return cls(fleet_dir, json.loads((fleet_dir / "fleet.json").read_text()))

    @property
    def hosts(self) -> dict[str, dict]:
        return self.info["hosts"]

    @property
    def user(self) -> str:
        return self.info["login_user"]

    @property
    def operator(self) -> dict:
        return self.info["operator"]

    @property
    def ssh_config(self) -> Path:
        return Path(self.operator["ssh_config"])

    @property
    def inventory(self) -> Path:
        return Path(self.info["inventory"])

    @property
    def sudo_password_file(self) -> Path:
        return Path(self.info["sudo_password_file"])

    def env(self, agent: bool = True) -> dict[str, str]:
        """The operator's environment: HOME, PATH and (unless ``agent=False``) SSH_AUTH_SOCK."""
        env = {"HOME": self.operator["home"], "PATH": BASE_PATH, "LANG": "C.UTF-8"}
        if agent:
            env["SSH_AUTH_SOCK"] = self.operator["agent_socket"]
        return env

    def ssh(self, host: str, command: str, *, agent: bool = True, identity: str | None = "auto",
            options: tuple[str, ...] = (), config: str | Path | None = None,
            input: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run ``command`` on ``host`` with ``ssh -F <operator config>``, never asking anything.

        ``identity="auto"`` adds ``-i`` with the inventory key for the host that accepts only
        that key (as an inventory's ``ansible_ssh_private_key_file`` would); ``None`` adds none.
        """
        argv = ["ssh", "-F", str(config or self.ssh_config), *options,  # the first value wins
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        if identity == "auto":
            spec = self.hosts.get(host, {})
            identity = spec.get("key_file") if spec.get("auth") == "inventory_key" else None
        if identity:
            argv += ["-i", identity]
        argv += [host, command]
        return subprocess.run(argv, env=self.env(agent), input=input, capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="session")
def fleet(tmp_path_factory) -> Fleet:
    reason = fleet_unsupported()
    if reason:
        pytest.skip(reason)
    fleet_dir = tmp_path_factory.mktemp("fleet")
    built = fleet_script("up", fleet_dir)
    if built.returncode != 0:
        fleet_script("down", fleet_dir)
        pytest.fail(f"fleet.py up failed (exit {built.returncode}):\n{built.stdout}{built.stderr}")
    try:
        yield Fleet.load(fleet_dir)
    finally:
        removed = fleet_script("down", fleet_dir)
        assert removed.returncode == 0, removed.stderr


@pytest.fixture
def run_fleet_script():
    """``run_fleet_script("up", DIR)``: the script itself, for tests of up/down/status."""
    return fleet_script


@pytest.fixture
def load_fleet():
    """``load_fleet(DIR)``: the Fleet a finished ``up`` in DIR describes."""
    return Fleet.load
