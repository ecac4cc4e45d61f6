"""Two ways real ``~/.ssh/config`` files are written, on the realistic fleet: the config split
into files pulled in by ``Include``, and a bastion reached with ``ProxyCommand ssh -W %h:%p``
(the form that predates ProxyJump), run by the real OpenSSH client."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.realfleet.test_orch_on_fleet import ALL, orch, own_config, ping, workdir

pytestmark = pytest.mark.realfleet


def test_a_config_split_by_include_reaches_every_host(fleet, tmp_path):
    whole = own_config(fleet, tmp_path, Path(fleet.operator["known_hosts"]))
    parts = tmp_path / "config.d"
    parts.mkdir()
    (parts / "50-fleet.conf").write_text(whole.read_text())
    (parts / "10-first.conf").write_text("Host web5\n  ConnectTimeout 7\n")
    (parts / "README").write_text("Host *\n  Port 1\n")  # not matched by the pattern
    for path in parts.iterdir():
        path.chmod(0o600)
    main = tmp_path / "main_config"
    main.write_text(f"Include {parts}/*.conf\n")
    done, last = ping(fleet, workdir(tmp_path, f"ssh_config = {main}\n"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {host: last[host]["status"] for host in ALL} == dict.fromkeys(ALL, "OK")


def test_a_bastion_through_proxy_command_ssh_w(fleet, tmp_path):
    known = Path(fleet.operator["known_hosts"])
    config = own_config(fleet, tmp_path, known, before=(
        "Host web3\n"
        f"  ProxyCommand ssh -F {fleet.ssh_config} -o BatchMode=yes -W %h:%p bast\n\n"))
    work = workdir(tmp_path, f"ssh_config = {config}\n")
    shown = orch(fleet, work, "ssh-config", "-i", str(fleet.inventory), "web3")
    settings = dict(line.split(" ", 1) for line in shown.stdout.splitlines())
    assert settings["proxyjump"] == "none"  # ProxyCommand came first: it wins over ProxyJump
    assert settings["proxycommand"].endswith(f"-W {fleet.hosts['web3']['address']}:22 bast")
    done, last = ping(fleet, work)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {host: last[host]["status"] for host in ALL} == dict.fromkeys(ALL, "OK")
