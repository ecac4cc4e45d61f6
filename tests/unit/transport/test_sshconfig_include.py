"""``Include`` in ssh_config, resolved as OpenSSH resolves it: checked against ``ssh -G``.

Each case writes a main config and the files it includes into a temporary folder, asks the
real OpenSSH client what it would use (``ssh -F main -G host``) and compares orch's resolution
of the same host key by key. Include lines use absolute paths there, because OpenSSH expands
``~`` from the passwd entry, not ``$HOME``; ``~`` and relative paths are checked on their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from orch.config import Config
from orch.errors import InputError
from orch.transport import sshconfig
from orch.transport.sshconfig import Resolver, Settings, SshConfig, load


@dataclass
class Host:
    name: str
    vars: dict = field(default_factory=dict)


def openssh(main: Path, host: str) -> dict[str, list[str]]:
    """What ``ssh -G`` resolves for ``host`` (keyword -> values)."""
    done = subprocess.run(["ssh", "-F", str(main), "-G", host], capture_output=True,
                          text=True, timeout=10, check=True)
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        keyword, _, value = line.partition(" ")
        found.setdefault(keyword, []).append(value)
    return found


def orch(main: Path, host: str):
    return Resolver(load(str(main)), Settings()).target(Host(host))


def agree(main: Path, host: str) -> None:
    want = openssh(main, host)
    got = orch(main, host)
    assert (got.address, got.port, got.user) == (
        want["hostname"][0], int(want["port"][0]), want["user"][0]), host
    identities = [path for path, source in got.identities if source != "default"]
    if identities:
        assert identities == want["identityfile"], host
    assert (got.jump.given if got.jump else "none") == want.get("proxyjump", ["none"])[0], host


@pytest.fixture
def home(tmp_path, monkeypatch):
    if shutil.which("ssh") is None:
        pytest.fail("no ssh client: run scripts/system-deps.sh")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir(mode=0o700)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_included_files_in_lexical_order_and_first_value_wins(home):
    conf = home / "conf.d"
    write(conf / "20-web.conf", "Host web*\n  User second\n  Port 2200\n")
    write(conf / "10-web.conf", "Host web1\n  User first\n  IdentityFile /k/one\n")
    write(conf / "README", "Host web1\n  User never\n")  # does not match the glob
    main = write(home / "main", f"Include {conf}/*.conf\nHost *\n  User fallback\n"
                                "  IdentityFile /k/any\n")
    for host in ("web1", "web2", "db1"):
        agree(main, host)
    assert orch(main, "web1").user == "first" and orch(main, "web2").port == 2200


def test_include_inside_a_host_block_applies_only_to_that_block(home):
    write(home / "inner", "User inner\nHost *\n  Port 2022\n")
    main = write(home / "main", f"Host bast\n  HostName 10.0.0.10\n  Include {home}/inner\n"
                                "  IdentityFile /k/bast\nHost *\n  User outer\n")
    for host in ("bast", "other"):
        agree(main, host)
    assert (orch(main, "bast").user, orch(main, "bast").port) == ("inner", 2022)
    assert (orch(main, "other").user, orch(main, "other").port) == ("outer", 22)


def test_a_match_in_an_included_file_does_not_leak_into_the_including_block(home):
    write(home / "inner", "Host nomatch\n  User x\n")
    main = write(home / "main", f"Host web1\n  Include {home}/inner\n  User after-include\n")
    agree(main, "web1")
    assert orch(main, "web1").user == "after-include"


def test_jump_hosts_from_included_files(home):
    write(home / "hops", "Host bast\n  HostName 10.0.0.10\n  User ops\n"
                         "Host web*\n  ProxyJump bast\n")
    main = write(home / "main", f"Include {home}/hops\n")
    agree(main, "web3")
    target = orch(main, "web3")
    assert (target.jump.address, target.jump.user) == ("10.0.0.10", "ops")


def test_relative_and_tilde_paths_are_under_home(home):
    write(home / ".ssh" / "config.d" / "a", "Host a\n  Port 2001\n")
    write(home / ".ssh" / "b", "Host b\n  Port 2002\n")
    config = SshConfig.parse("Include config.d/*\nInclude ~/.ssh/b\nInclude missing-*\n",
                             str(home / ".ssh" / "config"))
    assert config.lookup("a") == {"port": ("2001",)}
    assert config.lookup("b") == {"port": ("2002",)}


def test_a_file_others_may_write_is_refused_naming_the_include_line(home):
    inner = write(home / "inner", "User x\n")
    inner.chmod(0o666)
    with pytest.raises(InputError, match="bad owner or permissions") as caught:
        load(str(write(home / "main", f"# first\nInclude {inner}\n")))
    assert caught.value.where.line == 2 and caught.value.where.file.endswith("main")


def test_an_include_loop_is_an_error_not_a_hang(home):
    main = home / "main"
    write(main, f"Include {main}\n")
    with pytest.raises(InputError, match="nested deeper"):
        load(str(main))


def test_errors_in_an_included_file_name_that_file_and_line(home):
    write(home / "inner", "Port 22\nLocalCommand echo %h\n")
    with pytest.raises(InputError, match="LocalCommand is not supported") as caught:
        load(str(write(home / "main", f"Include {home}/inner\n")))
    assert caught.value.where.file == str(home / "inner") and caught.value.where.line == 2


def test_an_edited_included_file_is_read_again(home):
    inner = write(home / "inner", "Port 2001\n")
    main = write(home / "main", f"Include {inner}\n")

    config = replace(Config(), ssh_config=str(main))
    assert sshconfig.resolver(config).target(Host("x")).port == 2001
    write(inner, "Port 2002\n")
    os.utime(inner, ns=(0, 10**9))  # a new mtime even within the clock's resolution
    assert sshconfig.resolver(config).target(Host("x")).port == 2002


# ------------------------------------------------------------------ ProxyCommand against ssh -G

def test_proxy_command_tokens_as_openssh_expands_them(home):
    main = write(home / "main", "Host web*\n  HostName 10.0.0.%h\n  User ops\n  Port 2200\n"
                                "  ProxyCommand exec ssh -W %h:%p -l %r -o Tag=%n bast # a shell comment\n")
    want = openssh(main, "web1")["proxycommand"][0]
    got = orch(main, "web1").proxy_command
    assert got == ("ssh", "-W", "10.0.0.web1:2200", "-l", "ops", "-o", "Tag=web1", "bast")
    # ssh -G shows the command as written: OpenSSH expands the tokens when it connects
    assert want == "exec ssh -W %h:%p -l %r -o Tag=%n bast # a shell comment"


def test_proxy_jump_and_proxy_command_first_obtained_wins(home):
    main = write(home / "main", "Host a\n  ProxyJump bast\nHost b\n  ProxyCommand relay %h\n"
                                "Host *\n  ProxyCommand relay %h\n  ProxyJump bast\n")
    for host in ("a", "b", "c"):
        want = openssh(main, host)
        target = orch(main, host)
        assert bool(target.jump) == ("proxyjump" in want), host
        assert bool(target.proxy_command) == ("proxycommand" in want), host


def test_proxy_command_none_and_quoted_words(home):
    main = write(home / "main", 'Host a\n  ProxyCommand none\nHost *\n'
                                '  ProxyCommand sh -c "nc %h %p | cat"\n')
    assert orch(main, "a").proxy_command == ()
    assert orch(main, "b").proxy_command == ("sh", "-c", "nc b 22 | cat")


def test_proxy_command_from_ansible_ssh_common_args(home):
    resolver = Resolver(SshConfig([]), Settings())
    target = resolver.target(Host("web1", {
        "ansible_host": "10.1.1.1",
        "ansible_ssh_common_args": '-o ProxyCommand="ssh -W %h:%p -q ops@bast"'}))
    assert target.proxy_command == ("ssh", "-W", "10.1.1.1:22", "-q", "ops@bast")
