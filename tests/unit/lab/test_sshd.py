"""The lab's sshd_config: root may log in only in a root-login restricted lab, and only with a
forced command (the lab key's ``restrict,command=`` line)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from orch.lab import sshd
from orch.lab.layout import LabSettings


def settings_of(text: str) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, value in pairs}


def test_the_open_lab_refuses_root():
    lines = settings_of(sshd.config_text(Path("/tmp/lab"), 2222, "orchlab"))
    assert lines["PermitRootLogin"] == "no"
    assert lines["AllowUsers"] == "orchlab@127.0.0.0/8"


def test_a_root_login_lab_lets_root_in_by_forced_command_only():
    lines = settings_of(sshd.config_text(Path("/tmp/lab"), 2222, "orchlab", root_login=True))
    assert lines["PermitRootLogin"] == "forced-commands-only"
    assert lines["AllowUsers"] == "orchlab@127.0.0.0/8 root@127.0.0.0/8"


def test_sshd_accepts_the_root_login_config(tmp_path):
    key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run([sshd.SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / "sshd_config"
    config.write_text(sshd.config_text(tmp_path, 2222, "orchlab", root_login=True))
    done = subprocess.run([sshd.SSHD, "-T", "-f", str(config), "-C",
                           "user=root,host=lab,addr=127.0.1.3"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "permitrootlogin forced-commands-only" in done.stdout


def test_an_older_lab_json_saying_restricted_true_means_the_sudo_variant(tmp_path):
    data = {"dir": str(tmp_path), "n": 1, "port": 2222, "app_port": 8080, "frontend_port": 8000,
            "webhook_port": 8081, "user": "orchlab", "max_apps": 1, "inventory": "lab.yml",
            "inventory_ini": "lab.ini", "restricted": True}
    (tmp_path / "lab.json").write_text(json.dumps(data))
    settings = LabSettings.load(tmp_path)
    assert settings.restricted == "sudo"
    assert settings.login() == "orchlab"
    settings.restricted = "root"
    assert settings.login() == "root"
