"""orchhost's root-login parts (``orch host init --restricted --root-login``): reading the real
``sshd -T`` answer, which sshd settings refuse root, and writing root's authorized_keys (on a
temporary root folder). The whole flow on a real host is tests/trust/test_root_login.py."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess

import pytest
from module_support import load_module

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sshd -T and root-owned files")

ORCHHOST = load_module("orchhost")
ROOT = pwd.getpwnam("root")
BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIB0b3JjaC1yb290LWxvZ2luLXRlc3Qta2V5LWJsb2I"


def settings(**values) -> dict:
    base = {"permitrootlogin": ["prohibit-password"], "pubkeyauthentication": ["yes"],
            "authorizedkeysfile": [".ssh/authorized_keys .ssh/authorized_keys2"]}
    base.update({key: value if isinstance(value, list) else [value]
                 for key, value in values.items()})
    return base


def keys_path(client: str = "10.77.0.1", groups=("root",), **values) -> str:
    return ORCHHOST["root_keys_path"](settings(**values), client, ROOT, set(groups))


def test_debian_defaults_give_roots_first_authorized_keys_file():
    assert keys_path() == "/root/.ssh/authorized_keys"
    for permit in ("without-password", "forced-commands-only", "yes"):
        assert keys_path(permitrootlogin=permit) == "/root/.ssh/authorized_keys"


@pytest.mark.parametrize("values, message", [
    ({"permitrootlogin": "no"}, "sshd has PermitRootLogin no"),
    ({"allowusers": ["ops@10.77.0.0/24"]}, "AllowUsers does not name root"),
    ({"allowusers": ["root@10.9.0.0/16"]}, "AllowUsers does not name root (from 10.77.0.1)"),
    ({"allowusers": ["root@10.77.0.0/24,!10.77.0.1"]}, "AllowUsers does not name root"),
    ({"denyusers": ["r*t"]}, "DenyUsers matches root"),
    ({"allowgroups": ["wheel adm"]}, "AllowGroups names no group of root"),
    ({"denygroups": ["root"]}, "DenyGroups matches a group of root"),
    ({"pubkeyauthentication": "no"}, "PubkeyAuthentication no"),
    ({"authorizedkeysfile": "none"}, "no AuthorizedKeysFile"),
    ({"authorizedkeysfile": "/etc/keys/%i"}, "a %-token orch does not expand"),
])
def test_each_setting_that_refuses_root_is_named(values, message):
    with pytest.raises(ORCHHOST["HostError"]) as raised:
        keys_path(**values)
    assert message in str(raised.value)


def test_allowed_users_and_token_expansion():
    assert keys_path(allowusers=["ops", "root@10.77.0.0/24"]) == "/root/.ssh/authorized_keys"
    assert keys_path(allowusers=["ro?t@10.77.*"], allowgroups="root") == \
        "/root/.ssh/authorized_keys"
    assert keys_path(authorizedkeysfile="/etc/ssh/keys/%u.%U") == "/etc/ssh/keys/root.0"
    assert keys_path(authorizedkeysfile="%h/keys%%") == "/root/keys%"


def test_the_real_sshd_answer_is_read(tmp_path):
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = tmp_path / "sshd_config"
    config.write_text(f"HostKey {key}\nPermitRootLogin no\nAuthorizedKeysFile /etc/k/%u\n"
                      "AllowUsers ops root@10.77.0.0/24\n"
                      "Match Address 10.77.0.0/24\n    PermitRootLogin prohibit-password\n")
    asked = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(config), "-C",
                            "user=root,host=10.77.0.1,addr=10.77.0.1,laddr=10.77.0.14,lport=22"],
                           capture_output=True, text=True, check=True)
    found = ORCHHOST["sshd_settings"](asked.stdout)
    assert found["allowusers"] == ["ops", "root@10.77.0.0/24"]
    assert ORCHHOST["root_keys_path"](found, "10.77.0.1", ROOT, {"root"}) == "/etc/k/root"
    outside = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(config), "-C",
                              "user=root,host=10.9.0.1,addr=10.9.0.1"],
                             capture_output=True, text=True, check=True)
    with pytest.raises(ORCHHOST["HostError"], match="PermitRootLogin no"):
        ORCHHOST["root_keys_path"](ORCHHOST["sshd_settings"](outside.stdout), "10.9.0.1", ROOT,
                                   {"root"})


def test_roots_keys_are_written_replaced_and_kept(tmp_path, monkeypatch):
    monkeypatch.setitem(ORCHHOST, "ROOT", str(tmp_path))
    (tmp_path / "root").mkdir(mode=0o755)
    path = str(tmp_path / "root" / ".ssh" / "authorized_keys")
    keys = [f"ops ssh-ed25519 {BLOB}"]
    check = ORCHHOST["Plan"](True)
    ORCHHOST["_root_keys"](check, keys, path)
    assert check.created == [os.path.dirname(path), path] and not os.path.exists(path)
    os.mkdir(os.path.dirname(path), 0o755)
    with open(path, "w") as handle:
        handle.write(f"# root's own\nssh-ed25519 {BLOB} old comment\nssh-rsa AAAAB3Nother x\n")
    plan = ORCHHOST["Plan"](False)
    ORCHHOST["_root_keys"](plan, keys, path)
    forced = ('restrict,command="%s -I -S /usr/local/lib/orch/gate.pyc ops" ssh-ed25519 %s'
              % (ORCHHOST["sys"].executable, BLOB))
    with open(path) as handle:
        assert handle.read() == f"# root's own\n{forced}\nssh-rsa AAAAB3Nother x\n"
    assert plan.fixed == [os.path.dirname(path), path]  # folder 0755 -> 0700, the key line
    info, folder = os.lstat(path), os.lstat(os.path.dirname(path))
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o600)
    assert (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (0, 0o700)
    again = ORCHHOST["Plan"](False)
    ORCHHOST["_root_keys"](again, keys + [f"guest ssh-ed25519 {BLOB[:-4]}AAAA"], path)
    assert again.fixed == [path] and again.created == []
    still = ORCHHOST["Plan"](False)
    ORCHHOST["_root_keys"](still, keys + [f"guest ssh-ed25519 {BLOB[:-4]}AAAA"], path)
    assert still.fixed == still.created == []
