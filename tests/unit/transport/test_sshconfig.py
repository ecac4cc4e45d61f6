"""Resolution of a host's SSH settings as OpenSSH does it (orch.transport.sshconfig)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orch.errors import InputError
from orch.transport.sshconfig import Resolver, Settings, SshConfig, parse_args


@dataclass
class Host:
    name: str
    vars: dict = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.vars.get("ansible_port", 22))


DEFAULTS = Settings()
CONFIG = """\
# comment
Host web5
    Port 2222
    IdentityFile ~/.ssh/id_web5
Host web* !web9
    User alice
    HostName 10.0.0.%h
Host web3
    ProxyJump bast
    User ignored-first-wins
Match host 10.0.0.web4
    HostKeyAlias four
Host bast
    HostName 10.0.0.10
    User ops
Host *
    User nobody
    ConnectTimeout 5
    IdentityFile %d/.ssh/id_%u_%h
    UserKnownHostsFile ~/.ssh/kh
"""


@pytest.fixture
def resolve(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SSH_AUTH_SOCK", "/agent.sock")

    def resolve(name, config=CONFIG, settings=DEFAULTS, **variables):
        resolver = Resolver(SshConfig.parse(config, "cfg"), settings)
        return resolver.target(Host(name, variables))
    return resolve


def test_host_blocks_first_obtained_value_wins(resolve, tmp_path):
    target = resolve("web5")
    assert (target.address, target.port, target.user) == ("10.0.0.web5", 2222, "alice")
    assert target.connect_timeout == 5
    assert target.known_hosts == (f"{tmp_path}/.ssh/kh",)
    assert [path for path, _ in target.identities] == [
        f"{tmp_path}/.ssh/id_web5", f"{tmp_path}/.ssh/id_{__import__('getpass').getuser()}"
        f"_10.0.0.web5"]  # IdentityFile accumulates; %d from $HOME, %h the HostName
    assert target.agent == "/agent.sock"


def test_negated_pattern_excludes(resolve):
    target = resolve("web9")
    assert (target.address, target.user) == ("web9", "nobody")


def test_match_host_sees_the_hostname_so_far(resolve):
    assert resolve("web4").host_key_alias == "four"
    assert resolve("web1").host_key_alias == ""


def test_inventory_beats_ssh_config_beats_orch_cfg(resolve):
    target = resolve("web5", settings=Settings(ssh_user="cfguser", ssh_key="/cfg/key"),
                     ansible_port=2200, ansible_user="bob",
                     ansible_ssh_private_key_file="/inv/key")
    assert (target.port, target.user) == (2200, "bob")
    assert target.identities[0] == ("/inv/key", "inventory")
    bare = resolve("other", config="", settings=Settings(ssh_user="cfguser", ssh_key="/cfg/key"))
    assert (bare.user, bare.identities) == ("cfguser", (("/cfg/key", "orch.cfg"),))


def test_default_identities_when_none_given(resolve, tmp_path):
    target = resolve("x", config="")
    assert [p for p, s in target.identities if s == "default"] == [
        f"{tmp_path}/.ssh/id_ed25519", f"{tmp_path}/.ssh/id_ecdsa", f"{tmp_path}/.ssh/id_rsa"]
    assert target.key is None


def test_ansible_host_is_what_ssh_config_matches(resolve):
    target = resolve("app", ansible_host="web5")
    assert (target.address, target.port) == ("10.0.0.web5", 2222)


def test_proxy_jump_chain_and_hop_resolution(resolve):
    target = resolve("web3")
    assert target.user == "alice"  # Host web* came first
    assert target.jump.name == "bast" and target.jump.address == "10.0.0.10"
    assert target.jump.user == "ops" and target.jump.jump is None
    chained = resolve("x", config="", ansible_ssh_common_args="-J u1@h1:2201,[::1]:2202")
    assert (chained.jump.address, chained.jump.port) == ("::1", 2202)
    assert (chained.jump.jump.user, chained.jump.jump.address, chained.jump.jump.port) == (
        "u1", "h1", 2201)


def test_proxy_jump_loop_is_refused(resolve):
    with pytest.raises(InputError, match="loops"):
        resolve("a", config="Host a\n ProxyJump b\nHost b\n ProxyJump a\n")


def test_common_args_honoured_and_ordered(resolve):
    target = resolve("web5", ansible_ssh_common_args="-p 2022 -l carol -o ConnectTimeout=7 "
                     "-o HostKeyAlias=a -i /k1 -o ControlMaster=auto",
                     ansible_ssh_extra_args="-o Port=1")
    assert (target.port, target.user, target.connect_timeout) == (2022, "carol", 7)
    assert target.host_key_alias == "a"
    assert target.identities[0] == ("/k1", "ansible_ssh_common_args")


def test_lab_common_args_are_accepted():
    lab = "-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes"
    assert parse_args(lab) == ()  # host keys come from orch.cfg / ~/.ssh/config
    assert parse_args("-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/x "
                      "-o PreferredAuthentications=publickey") == ()


@pytest.mark.parametrize("args, refused", [
    ("-o LocalCommand='echo hi'", "-o LocalCommand=echo hi"),
    ("-R 80:x:80", "-R"), ("-A", "-A"), ("-o", "-o (no value)"), ("-F /etc/x", "-F")])
def test_other_options_are_refused_naming_host_and_variable(resolve, args, refused):
    assert parse_args(args) == refused
    with pytest.raises(InputError) as caught:
        resolve("web1", ansible_ssh_extra_args=args)
    assert "ansible_ssh_extra_args" in str(caught.value) and refused in str(caught.value)
    assert "host web1" in str(caught.value.where)


@pytest.mark.parametrize("text, problem", [
    ("Match version OpenSSH_9*\n User x\n", "Match version: not supported by orch"),
    ("Match user\n User x\n", "Match user: missing argument"),
    ("ProxyCommand nc %h %p | tee x\n", "needs a shell"),
    ("CanonicalizeHostname yes\n", "CanonicalizeHostname is not supported"),
    ("Include\n", "Include needs a file"),
    ("Host\n", "at least one pattern"),
])
def test_config_lines_orch_cannot_honour_name_file_and_line(text, problem):
    with pytest.raises(InputError, match=problem) as caught:
        SshConfig.parse("# first\n" + text, "/home/u/.ssh/config")
    assert caught.value.where.file == "/home/u/.ssh/config" and caught.value.where.line == 2


def test_strict_host_key_checking_values(resolve):
    assert resolve("x", config="StrictHostKeyChecking yes\n",
                   settings=Settings(host_key_policy="accept-new")).host_key_policy == "strict"
    assert resolve("x", config="").host_key_policy == "strict"
    assert resolve("x", config="StrictHostKeyChecking accept-new\n").host_key_policy == (
        "accept-new")


def test_identity_agent_none_and_identities_only(resolve):
    target = resolve("x", config="IdentityAgent none\nIdentitiesOnly yes\n")
    assert (target.agent, target.identities_only) == ("", True)


def test_keyword_equals_and_quotes():
    config = SshConfig.parse('Host "a b" c\n  Port=2\n  User = "x"\n')
    assert config.lookup("c") == {"port": ("2",), "user": ("x",)}
    assert config.lookup("a b")["port"] == ("2",)


def test_bad_port_is_input_error(resolve):
    with pytest.raises(InputError, match="Port must be a port number"):
        resolve("x", config="Port 99999\n")
