"""ProxyCommand from ~/.ssh/config on the real lab: orch runs the command (without a shell) for
each host and speaks SSH over its stdin/stdout, as OpenSSH does; a command that cannot start
fails that host with a clear reason. The command is a real relay process
(tests/data/tools/tcp_relay.py) that logs each connection it carries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_orch, write_orch_cfg

pytestmark = pytest.mark.lab

RELAY = REPO / "tests" / "data" / "tools" / "tcp_relay.py"


@pytest.fixture
def work(lab, tmp_path):
    log = tmp_path / "relay.log"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host {lab.hosts['dev1']} {lab.hosts['dev2']}\n"
                      f"  ProxyCommand exec {sys.executable} {RELAY} {log} %h %p\n"
                      f"Host {lab.hosts['dev3']}\n  ProxyCommand /nonexistent/relay %h %p\n")
    config.chmod(0o600)
    cfg = write_orch_cfg(tmp_path, lab.dir, lab.inventory)
    cfg.write_text(cfg.read_text() + f"ssh_config = {config}\n")
    return tmp_path, log


def test_hosts_are_reached_through_their_proxy_command(lab, work):
    folder, log = work
    result = run_orch(["call", "rpcutil.ping", "-I", "dev1", "-I", "dev2"], folder, check=True)
    assert "dev1" in result.stdout and "dev2" in result.stdout
    carried = sorted(log.read_text().split())
    assert carried == sorted(f"{lab.hosts[h]}:{lab.port}" for h in ("dev1", "dev2"))


def test_a_proxy_command_that_cannot_start_fails_that_host_only(lab, work):
    folder, log = work
    result = run_orch(["call", "rpcutil.ping", "-I", "dev1", "-I", "dev3"], folder)
    assert result.code == 1, str(result)
    assert "dev3" in result.stdout + result.stderr
    assert "ProxyCommand cannot start /nonexistent/relay: No such file or directory" in (
        result.stdout + result.stderr)
    assert "Traceback" not in result.stderr


def test_ssh_config_shows_the_command_as_it_will_run(lab, work):
    folder, log = work
    result = run_orch(["ssh-config", "dev1"], folder, check=True)
    line = next(line for line in result.stdout.splitlines() if "proxycommand" in line)
    assert str(RELAY) in line and f"{lab.hosts['dev1']} {lab.port}" in line
    assert not Path(log).exists()  # showing the settings connects nowhere
