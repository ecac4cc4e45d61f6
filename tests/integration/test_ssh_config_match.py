"""``Match exec`` in ~/.ssh/config on the real lab: the command decides the Port and User orch
connects with, as OpenSSH would, and it runs once for all the hosts of a call.

The inventory here is the lab's without ``ansible_port`` and ``ansible_user`` (those would win
over the config file, as on ssh's command line); the config sends every host to a closed port
as a user that does not exist unless the exec command finds its flag file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_orch, write_orch_cfg

pytestmark = pytest.mark.lab

HOSTS = ("dev1", "dev2", "dev3")


def _hosts(node: dict) -> dict:
    found = dict(node.get("hosts") or {})
    for child in (node.get("children") or {}).values():
        found.update(_hosts(child))
    return found


@pytest.fixture
def work(lab, tmp_path):
    document = yaml.safe_load(lab.inventory.read_text())
    every = _hosts(document["all"])
    hosts = {}
    for name in HOSTS:
        host_vars = dict(every[name])
        del host_vars["ansible_port"], host_vars["ansible_user"]
        hosts[name] = host_vars
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"vars": document["all"]["vars"],
                                                 "hosts": hosts}}))
    flag, log = tmp_path / "on-lab-network", tmp_path / "exec.log"
    check = tmp_path / "check.sh"
    check.write_text(f'echo "$1" >> {log}\ntest -f {flag}\n')
    config = tmp_path / "ssh_config"
    config.write_text(f"Match originalhost 127.0.1.* exec \"/bin/sh {check} %u\"\n"
                      f"    Port {lab.port}\n    User {lab.user}\n"
                      "Host *\n    Port 9\n    User nobody-here\n")
    config.chmod(0o600)
    cfg = write_orch_cfg(tmp_path, lab.dir, inventory)
    cfg.write_text(cfg.read_text() + f"ssh_config = {config}\nconnect_timeout = 5\n")
    return tmp_path, flag, log


def test_match_exec_sets_port_and_user_and_runs_once_per_call(lab, work):
    folder, flag, log = work
    flag.write_text("")
    result = run_orch(["call", "rpcutil.ping", *sum((["-I", h] for h in HOSTS), [])], folder,
                      check=True)
    assert all(name in result.stdout for name in HOSTS), str(result)
    assert len(log.read_text().splitlines()) == 1  # three hosts, one command: one run

    shown = run_orch(["ssh-config", "dev1"], folder, check=True).stdout
    assert f"port {lab.port}" in shown.splitlines() and f"user {lab.user}" in shown.splitlines()


def test_without_the_flag_the_hosts_get_the_other_port(lab, work):
    folder, flag, log = work
    shown = run_orch(["ssh-config", "dev1"], folder, check=True).stdout.splitlines()
    assert "port 9" in shown and "user nobody-here" in shown
    result = run_orch(["call", "rpcutil.ping", "-I", "dev1"], folder)
    assert result.code == 1 and "Traceback" not in result.stderr, str(result)
    assert Path(log).exists()
