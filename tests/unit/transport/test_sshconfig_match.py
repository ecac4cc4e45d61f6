"""``Match`` criteria in ssh_config, resolved as OpenSSH resolves them: checked against ``ssh -G``.

Each case writes a config into a temporary folder and compares orch's resolution of a host with
what the real OpenSSH client prints for it (``ssh -G -F FILE [-l USER] [-p PORT] HOST``: no
connection is made). The inventory's ``ansible_user``/``ansible_port`` are given to ssh as
``-l``/``-p``, as Ansible gives them. ``Match tagged`` and ``localnetwork`` need OpenSSH 9.4, so
they are checked against OpenSSH's rules directly (and the interface list against ``ip``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from orch.errors import InputError
from orch.transport import sshconfig_match
from orch.transport.sshconfig import Resolver, Settings, SshConfig, load
from orch.transport.sshconfig_match import Runner, exec_words, interface_addresses
from tests.unit.transport.test_sshconfig import Host

ME = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def folder(tmp_path, monkeypatch):
    if shutil.which("ssh") is None:
        pytest.fail("no ssh client: run scripts/system-deps.sh")
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def write(folder: Path, text: str, name: str = "config") -> Path:
    path = folder / name
    path.write_text(text)
    path.chmod(0o600)
    return path


def openssh(config: Path, host: str, user: str | None = None, port: int | None = None) -> dict:
    argv = ["ssh", "-F", str(config), "-G"]
    argv += ["-l", user] if user else []
    argv += ["-p", str(port)] if port else []
    done = subprocess.run(argv + [host], capture_output=True, text=True, timeout=10,
                          stdin=subprocess.DEVNULL, check=True)
    found: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        keyword, _, value = line.partition(" ")
        found.setdefault(keyword, []).append(value)
    return found


def orch(config: Path, host: str, user: str | None = None, port: int | None = None,
         resolver: Resolver | None = None):
    variables = {}
    if user:
        variables["ansible_user"] = user
    if port:
        variables["ansible_port"] = str(port)
    resolver = resolver or Resolver(load(str(config)), Settings())
    return resolver.target(Host(host, variables))


def agree(config: Path, host: str, user: str | None = None, port: int | None = None):
    """orch and ``ssh -G`` agree on HostName, Port, User, IdentityFile and HostKeyAlias."""
    want = openssh(config, host, user, port)
    got = orch(config, host, user, port)
    assert (got.address.lower(), got.port, got.user) == (
        want["hostname"][0], int(want["port"][0]), want["user"][0]), (host, user, port)
    identities = [path for path, source in got.identities if source != "default"]
    if identities:
        assert identities == want["identityfile"], host
    assert (got.host_key_alias or "none") == want.get("hostkeyalias", ["none"])[0], host
    return got


# ------------------------------------------------------------------ user, localuser

USER_CONFIG = """\
Match user alice
    Port 2001
Host early
    User bob
Match user bob host early,late
    Port 2002
Match user carol
    Port 2003
Host late
    User carol
Match localuser {me}
    HostKeyAlias mine
Match !localuser {me}
    HostKeyAlias notmine
"""


@pytest.mark.parametrize("host, user", [
    ("x", None), ("x", "alice"), ("x", "bob"), ("early", None), ("early", "alice"),
    ("late", None), ("late", "carol"), ("late", "bob"), ("x", ME),
])
def test_match_user_sees_the_user_given_first_then_the_users_set_above(folder, host, user):
    got = agree(write(folder, USER_CONFIG.format(me=ME)), host, user)
    assert got.host_key_alias == "mine"


def test_which_user_match_user_sees(folder):
    config = write(folder, USER_CONFIG.format(me=ME))
    assert orch(config, "x", "alice").port == 2001  # the inventory's user, like ssh -l
    assert orch(config, "early").port == 2002  # a User line above the Match
    assert orch(config, "late").port == 22  # a User line below it: not yet set
    assert orch(config, "late").user == "carol"


# ------------------------------------------------------------------ host, originalhost

HOST_CONFIG = """\
Host db1 app1
    HostName 10.0.0.1
Host alias*
    HostName Real-%h.example
Match host real-alias1.example
    Port 2001
Match originalhost alias1
    User viaoriginal
Match host alias2
    Port 2002
Match originalhost real-*
    Port 2003
Match host "web?.example,!web9.example" originalhost web*
    User webs
Match !host *.example
    IdentityFile /keys/not-example
Match host=10.0.0.* !originalhost=db*
    Port 2004
"""


@pytest.mark.parametrize("host", ["alias1", "alias2", "ALIAS1", "web1.example", "web9.example",
                                  "other", "db1", "app1"])
def test_host_is_the_hostname_so_far_and_originalhost_the_name_given(folder, host):
    agree(write(folder, HOST_CONFIG), host)


def test_host_lines_are_case_sensitive_match_host_is_not(folder):
    config = write(folder, HOST_CONFIG)
    assert orch(config, "ALIAS1").address == "ALIAS1"  # Host alias* does not match ALIAS1
    assert orch(config, "alias1").port == 2001
    assert orch(config, "app1").port == 2004 and orch(config, "db1").port == 22


# ------------------------------------------------------------------ all, combinations

def test_all_negated_all_and_all_after_one_criterion(folder):
    config = write(folder, "Match !all\n    Port 2001\nMatch host x* all\n    Port 2002\n"
                           "Match all\n    Port 2003\n")
    assert agree(config, "x1").port == 2002
    assert agree(config, "y1").port == 2003


@pytest.mark.parametrize("text", ["Match host a user b all\n", "Match all host a\n"])
def test_all_combined_with_others_is_refused_as_openssh_refuses_it(folder, text):
    config = write(folder, "# first\n" + text + "    Port 1\n")
    assert subprocess.run(["ssh", "-F", str(config), "-G", "a"], capture_output=True,
                          stdin=subprocess.DEVNULL).returncode != 0
    with pytest.raises(InputError, match="cannot be combined") as caught:
        load(str(config))
    assert caught.value.where.line == 2


def test_comment_ends_the_criteria(folder):
    config = write(folder, "Match host a* # user nobody\n    Port 2001\n")
    assert agree(config, "a1").port == 2001


# ------------------------------------------------------------------ final, canonical

FINAL_CONFIG = """\
Host alias
    HostName Real.Example
Host real.example
    Port 2001
Match final host real.example
    User finaluser
Match originalhost alias final
    IdentityFile /keys/final
Match canonical
    HostKeyAlias canon
Match !final
    IdentityFile /keys/first
Host alias
    IdentityFile /keys/alias
    IdentityFile /keys/alias
"""


@pytest.mark.parametrize("host, user", [("alias", None), ("Alias", None), ("alias", "u1"),
                                        ("real.example", None), ("other", None)])
def test_final_pass_as_openssh_second_pass(folder, host, user):
    agree(write(folder, FINAL_CONFIG), host, user)


def test_final_pass_matches_host_lines_against_the_resolved_name(folder):
    got = orch(write(folder, FINAL_CONFIG), "alias")
    assert (got.port, got.user, got.host_key_alias) == (2001, "finaluser", "canon")
    assert [path for path, _ in got.identities] == ["/keys/first", "/keys/alias", "/keys/final"]


def test_canonical_alone_never_holds_without_a_final_pass(folder):
    config = write(folder, "Match canonical\n    Port 2001\nMatch !canonical\n    Port 2002\n")
    assert agree(config, "x").port == 2002


def test_a_final_line_in_a_block_that_does_not_apply_still_makes_the_second_pass(folder):
    included = write(folder, "Match final\n    Port 2001\n", "inc")
    config = write(folder, f"Host nothere\n    Include {included}\nMatch canonical\n"
                           "    User second\n")
    got = agree(config, "x")
    assert (got.port, got.user) == (22, "second")


def test_negated_final_alone_makes_no_second_pass_as_openssh_10_1():
    """OpenSSH 10.1 (bz3843): ``Match !final`` no longer triggers the second pass (9.2 did)."""
    config = SshConfig.parse("Match !final\n    User first\nMatch canonical\n    Port 2001\n")
    assert not config.wants_final
    assert config.lookup("x") == {"user": ("first",)}


# ------------------------------------------------------------------ exec

def test_exec_runs_the_command_exit_status_0_is_a_match(folder):
    (folder / "up").write_text("")
    config = write(folder, f"Match exec \"test -f {folder}/up\"\n    Port 2001\n"
                           f"Match exec \"test -f {folder}/down\"\n    User down\n"
                           f"Match !exec \"test -f {folder}/down\" host x*\n    HostKeyAlias nd\n"
                           "Match exec=false\n    IdentityFile /keys/never\n")
    got = agree(config, "x1")
    assert (got.port, got.user, got.host_key_alias) == (2001, ME, "nd")
    (folder / "up").unlink()
    assert agree(config, "x1").port == 22


def test_exec_tokens_are_expanded_per_host(folder):
    flags = folder / "flags"
    flags.mkdir()
    (flags / "real-b.example_2222_bob_b_real-b.example").write_text("")  # %k: the host
    config = write(folder, "Host b\n    HostName real-%h.example\n    Port 2222\n"
                           f"Match exec \"test -f {flags}/%h_%p_%r_%n_%k\"\n    User matched\n"
                           "Host *\n    User bob\n"
                           f"Match exec \"test -f {flags}/%h_%p_%r_%n_%k\"\n    HostKeyAlias hit\n")
    assert agree(config, "b").host_key_alias == "hit"  # %r is bob only once User bob is set
    assert agree(config, "c").host_key_alias == ""
    local = folder / "local"
    local.mkdir()
    (local / f"{ME}_{os.getuid()}").write_text("")
    config = write(folder, f"Match exec \"test -d {folder}/%u_%i\"\n    Port 1\n"
                           f"Match exec \"test -f %d/local/%u_%i\"\n    Port 2001\n")
    assert orch(config, "x").port == 2001  # %d is $HOME in orch (OpenSSH: the passwd entry)


def test_tilde_is_the_home_folder(folder):
    (folder / ".on-vpn").write_text("")
    config = write(folder, "Match exec \"test -f ~/.on-vpn\"\n    Port 2001\n")
    assert orch(config, "x").port == 2001
    (folder / ".on-vpn").unlink()
    assert orch(config, "x").port == 22


def test_exec_is_skipped_when_an_earlier_criterion_fails_and_cached_per_argv(folder):
    log = folder / "runs.log"
    script = write(folder, f"echo \"$1\" >> {log}\ntest \"$1\" = web2\n", "count.sh")
    config = write(folder, f"Match host web* exec \"/bin/sh {script} %h\"\n    Port 2001\n"
                           f"Match exec \"/bin/sh {script} shared\"\n    User shared\n")
    resolver = Resolver(load(str(config)), Settings())
    hosts = [f"web{n}" for n in range(1, 6)] + [f"db{n}" for n in range(1, 6)]
    targets = {name: orch(config, name, resolver=resolver) for name in hosts}
    assert [name for name, t in targets.items() if t.port == 2001] == ["web2"]
    assert all(t.user == ME for t in targets.values())
    lines = log.read_text().split()
    assert sorted(lines) == sorted([f"web{n}" for n in range(1, 6)] + ["shared"])
    for name in hosts:  # the same hosts again: nothing is run again
        orch(config, name, resolver=resolver)
    assert len(log.read_text().split()) == len(lines) == resolver.runner.runs == 6


def test_200_hosts_fork_once_for_the_same_command(folder):
    log = folder / "runs.log"
    script = write(folder, f"echo run >> {log}\n", "count.sh")
    config = write(folder, f"Match exec \"/bin/sh {script}\"\n    Port 2001\n")
    resolver = Resolver(load(str(config)), Settings())
    assert all(orch(config, f"h{n}", resolver=resolver).port == 2001 for n in range(200))
    assert log.read_text().split() == ["run"]


def test_cached_results_expire():
    runner = Runner(keep=0)
    where = sshconfig_match.Where("f", 1)
    assert runner.run(("true",), where) and runner.run(("true",), where)
    assert runner.runs == 2


@pytest.mark.parametrize("command, problem", [
    ("test -f x && true", "'&' needs a shell"),
    ("test -f $HOME/x", "'\\$' \\(an expansion\\) needs a shell"),
    ('test -f "$HOME/x"', "an expansion"),
    ("ls /tmp/*.flag", "a file name pattern"),
    ("test -f ~root/x", "'~root' \\(another user's home\\)"),
    ("FOO=1 true", "VAR=value"),
    ("! test -f x", "Match !exec"),
    ("nc -z h 1 > /dev/null", "'>' needs a shell"),
    ("test -f %C", "%C is not supported"),
    ("test -f %Z", "unknown token %Z"),
])
def test_shell_syntax_is_refused_naming_file_and_line(command, problem):
    text = "# first\nHost *\n    Port 22\nMatch exec '" + command.replace("'", "") + "'\n"
    if "'" in command:
        text = "# first\nHost *\n    Port 22\nMatch exec \"" + command + "\"\n"
    with pytest.raises(InputError, match=problem) as caught:
        SshConfig.parse(text, "/home/u/.ssh/config")
    assert (caught.value.where.file, caught.value.where.line) == ("/home/u/.ssh/config", 4)
    assert "sh -c" in str(caught.value) or "token" in str(caught.value) or "%C" in problem


def test_words_split_as_sh_splits_them():
    assert exec_words("exec test -f '/a b' \"c d\" e\\ f [ ] ~ ~/x") == [
        "test", "-f", "/a b", "c d", "e f", "[", "]", "%d", "%d/x"]


def test_a_command_that_cannot_start_names_file_line_and_command(folder):
    config = write(folder, "Host *\n    Port 22\nMatch exec \"/nonexistent/vpn-check %h\"\n"
                           "    Port 1\n")
    with pytest.raises(InputError) as caught:
        orch(config, "x")
    message = str(caught.value)
    assert "Match exec /nonexistent/vpn-check x: cannot run /nonexistent/vpn-check" in message
    assert caught.value.where.line == 3


def test_a_command_that_hangs_is_an_error_after_the_timeout(folder):
    config = write(folder, "Match exec \"sleep 5\"\n    Port 1\n")
    resolver = Resolver(load(str(config)), Settings())
    resolver.runner.timeout = 0.2
    with pytest.raises(InputError, match="no exit status within 0.2 s"):
        orch(config, "x", resolver=resolver)


def test_jump_hosts_see_the_user_and_port_of_the_jump_spec(folder):
    config = write(folder, "Host app\n    ProxyJump ops@bast:2200\n"
                           "Match host bast user ops\n    HostName 10.9.9.9\n")
    assert orch(config, "app").jump.address == "10.9.9.9"


# ------------------------------------------------------------------ tagged, localnetwork

TAG_CONFIG = """\
Host web*
    Tag webtag
Match tagged webtag,other
    Port 2001
Match tagged ""
    Port 2002
Match !tagged web*
    User untagged
"""


def test_tagged_matches_the_tag_set_so_far():
    config = SshConfig.parse(TAG_CONFIG)
    resolver = Resolver(config, Settings())
    web = resolver.target(Host("web1"))
    assert (web.port, web.user) == (2001, ME)
    db = resolver.target(Host("db1"))
    assert (db.port, db.user) == (2002, "untagged")  # an empty tag matches only ""
    given = resolver.target(Host("db2", {"ansible_ssh_common_args": "-o Tag=other"}))
    assert given.port == 2001


def test_interface_addresses_are_those_ip_shows():
    ip = shutil.which("ip") or "/usr/sbin/ip"
    shown = json.loads(subprocess.run([ip, "-j", "addr"], capture_output=True, text=True,
                                      check=True).stdout)
    want = {info["local"].split("%")[0] for link in shown if "UP" in link["flags"]
            for info in link.get("addr_info", []) if info["family"] in ("inet", "inet6")}
    assert {str(address) for address in interface_addresses()} == want
    assert "127.0.0.1" in want


def test_localnetwork_matches_the_interfaces_networks():
    addresses = interface_addresses()
    absent = next(net for net in ("203.0.113.0/24", "198.51.100.0/24", "100.64.77.0/24")
                  if not any(a in ipaddress.ip_network(net) for a in addresses))
    config = SshConfig.parse(f"Match localnetwork {absent},{absent.split('/')[0]}\n"
                             "    Port 2001\n"
                             f"Match localnetwork {absent},127.0.0.0/8\n    User lo\n"
                             "Match !localnetwork ::1/128\n    HostKeyAlias nolo6\n")
    found = config.lookup("x")
    assert found.get("port") is None and found["user"] == ("lo",)
    has_v6 = any(str(a) == "::1" for a in addresses)
    assert ("hostkeyalias" in found) == (not has_v6)


@pytest.mark.parametrize("networks, problem", [
    ("10.0.0.1/8", "no host bits"), ("10.0.0.0/33", "not a network"), ("lan", "not an address"),
    ("10.0.0.0/8,", "empty entry"),
])
def test_bad_networks_are_refused(networks, problem):
    with pytest.raises(InputError, match=problem) as caught:
        SshConfig.parse(f"# x\nMatch localnetwork {networks}\n", "cfg")
    assert caught.value.where.line == 2 and "localnetwork" in str(caught.value)


# ------------------------------------------------------------------ refused criteria

@pytest.mark.parametrize("line, problem", [
    ("Match version OpenSSH_9*", "Match version: not supported by orch"),
    ("Match command uptime", "Match command: not supported by orch"),
    ("Match sessiontype shell", "Match sessiontype: not supported by orch"),
    ("Match hostname x", "Match hostname: unknown criterion"),
    ("Match", "at least one criterion"),
    ("Match exec", "Match exec: missing argument"),
    ("Match host #x", "Match host: missing argument"),
])
def test_unsupported_criteria_are_one_line_errors_naming_file_and_line(folder, line, problem):
    config = write(folder, f"Host a\n    Port 1\n{line}\n    Port 2\n")
    with pytest.raises(InputError, match=problem) as caught:
        load(str(config))
    assert (caught.value.where.file, caught.value.where.line) == (str(config), 3)
    assert "\n" not in str(caught.value)


def test_the_cli_reports_a_bad_match_line_with_exit_2(folder):
    config = write(folder, "Match sessiontype shell\n    Port 2\n")
    inventory = write(folder, "web1 ansible_host=127.0.0.1\n", "hosts.ini")
    write(folder, f"[defaults]\ninventory = {inventory}\nssh_config = {config}\n", "orch.cfg")
    done = subprocess.run([sys.executable, "-m", "orch", "ssh-config", "web1"], cwd=folder,
                          capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("ORCH_")})
    assert done.returncode == 2, done.stderr
    assert f"{config}:1" in done.stderr and "Match sessiontype" in done.stderr
    assert "Traceback" not in done.stderr
