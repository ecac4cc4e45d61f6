"""Each host's connection settings, resolved as OpenSSH resolves them, from one parse per run.

Precedence, first obtained value wins as in OpenSSH: the inventory's ``ansible_port``,
``ansible_user`` and ``ansible_ssh_private_key_file`` (Ansible passes them to ssh first), then
``ansible_ssh_common_args`` and ``ansible_ssh_extra_args`` (``-o Key=Value``, ``-J``, ``-p``,
``-l``, ``-i``), then the host's blocks of the OpenSSH config file (``~/.ssh/config`` or orch.cfg
``ssh_config``), then orch.cfg (``ssh_user``, ``ssh_key``, ``connect_timeout``, ``known_hosts``,
``host_key_policy``), then OpenSSH's defaults. As in Ansible, ``ansible_host`` (else the
inventory name) is the name ssh is given: ``Host`` patterns match it and ``HostName`` may
replace it.

The config file is parsed once (``Resolver`` caches it by the file's identity), and every host
is resolved in microseconds with precompiled patterns, so that a 200-entry config costs a fleet
run next to nothing; asyncssh's own config support would re-read it for every connection and
stop orch sharing prepared options between hosts.

``Match`` lines are evaluated by ``sshconfig_match`` with the options obtained at their line
(the inventory's first, as ssh's command line); a ``Match final`` line makes OpenSSH's second
pass, where ``Host`` lines match the resolved host name.

``~`` and ``%d`` expand from ``$HOME`` (OpenSSH uses the passwd entry), so that a test, or an
operator, can point ``HOME`` at another folder.
"""

from __future__ import annotations

import functools
import getpass
import glob
import ipaddress
import os
import pwd
import re
import shlex
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace

from orch.errors import InputError, Where
from orch.transport.options import Target
from orch.transport.sshconfig_match import MatchLine, Patterns, Runner, parse_match

DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts",)

#: Keywords orch honours (lower case), from the config file and from ``-o``.
SUPPORTED = {
    "hostname", "user", "port", "identityfile", "identitiesonly", "proxyjump", "connecttimeout",
    "userknownhostsfile", "globalknownhostsfile", "stricthostkeychecking",
    "serveraliveinterval", "hostkeyalias", "identityagent", "proxycommand", "tag",
}
#: Accepted in ``-o`` and ignored, with the reason (documented in docs/INTERNALS.md).
IGNORED = {
    "controlmaster": "connection sharing, not needed (one connection per host per run)",
    "controlpersist": "connection sharing, not needed (one connection per host per run)",
    "controlpath": "connection sharing, not needed (one connection per host per run)",
    "preferredauthentications": "orch authenticates with keys only",
    "pubkeyauthentication": "orch authenticates with keys only",
    "passwordauthentication": "orch authenticates with keys only",
    "kbdinteractiveauthentication": "orch authenticates with keys only",
    "gssapiauthentication": "orch authenticates with keys only",
    "batchmode": "orch never prompts for a login",
    "loglevel": "ssh's own logging",
    "compression": "orch chooses no compression (small payloads)",
    "serveralivecountmax": "orch uses 3",
    "hashknownhosts": "orch records OpenSSH's plain form",
    "checkhostip": "OpenSSH's default (no) is orch's",
    "forwardagent": "orch never forwards the agent",
    "forwardx11": "orch opens no X11 channel",
    "requesttty": "orch never asks for a tty",
    "addkeystoagent": "orch never changes the agent",
    "sendenv": "orch sends no environment",
    "tcpkeepalive": "orch keeps ServerAliveInterval",
}
#: In ansible_ssh_*_args only: inventories set these for Ansible's own ssh (the lab does);
#: orch takes host-key files and policy from ~/.ssh/config and orch.cfg (``known_hosts``,
#: ``host_key_policy``, ``--accept-new``), so that orch.cfg can always say which file is used.
IGNORED_IN_ARGS = {
    "userknownhostsfile": "host keys: orch.cfg known_hosts / ~/.ssh/config",
    "globalknownhostsfile": "host keys: orch.cfg known_hosts / ~/.ssh/config",
    "stricthostkeychecking": "host keys: orch.cfg host_key_policy, --accept-new",
}
#: Flags without an argument accepted in ansible_ssh_*_args and ignored.
IGNORED_FLAGS = {"-q", "-C", "-T", "-n", "-x", "-a", "-4", "-6"}
#: Config-file keywords that would change where or how orch connects and that it cannot do:
#: refused rather than silently ignored.
REFUSED = {"canonicalizehostname", "localcommand", "remotecommand",
           "certificatefile", "pkcs11provider", "securitykeyprovider", "knownhostscommand"}
_FLAG_OPTION = {"-p": "port", "-l": "user", "-i": "identityfile", "-J": "proxyjump"}
_MULTI = {"identityfile"}  # every value accumulates; the rest: first obtained wins


def _home() -> str:
    return os.environ.get("HOME") or os.path.expanduser("~")


def expand_path(path: str, tokens: Mapping[str, str]) -> str:
    """``~`` from ``$HOME`` and OpenSSH's ``%`` tokens (``%d %u %h %n %p %r %l %L %i %%``)."""
    if path == "~" or path.startswith("~/"):
        path = _home() + path[1:]
    return expand_tokens(path, tokens)


def expand_tokens(text: str, tokens: Mapping[str, str]) -> str:
    def one(match: re.Match) -> str:
        letter = match.group(1)
        if letter == "%":
            return "%"
        if letter not in tokens:
            raise ValueError(f"unknown token %{letter}")
        return tokens[letter]
    return re.sub(r"%(.)", one, text)


def _local_tokens() -> dict[str, str]:
    """The local side's tokens, as OpenSSH takes them: the user from the passwd entry, ``%l``
    the host name, ``%L`` its first label."""
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = getpass.getuser()
    name = socket.gethostname()
    return {"d": _home(), "u": user, "i": str(os.getuid()), "l": name,
            "L": name.split(".")[0]}


@dataclass(frozen=True)
class Condition:
    """When a ``Host`` or ``Match`` line applies: a Host line's patterns (matched, case and
    all, against the name ssh was given) or a Match line's criteria."""

    patterns: Patterns | None
    match: MatchLine | None = None


class _Pass:
    """What one pass over the config sees at each line: the options obtained so far (those
    given before the file, as on ssh's command line, first), the names, whether it is the
    final pass. ``Match`` criteria read it (``sshconfig_match.MatchLine.applies``)."""

    __slots__ = ("host_arg", "original", "final", "preset", "found", "runner", "local")

    def __init__(self, host_arg: str, original: str, final: bool, preset: Mapping,
                 found: dict, runner: Runner, local: Mapping[str, str]):
        self.host_arg, self.original, self.final = host_arg, original, final
        self.preset, self.found, self.runner, self.local = preset, found, runner, local

    def current(self, keyword: str) -> str | None:
        values = self.preset.get(keyword) or self.found.get(keyword)
        return values[0] if values else None

    def match_host(self) -> str:
        """``Match host``'s name: the HostName so far with %h expanded (the final pass: the
        resolved name), as OpenSSH's match_cfg_line."""
        hostname = None if self.final else self.current("hostname")
        if hostname is None:
            return self.host_arg
        if "%" in hostname:
            try:
                hostname = expand_tokens(hostname, {"h": self.host_arg})
            except ValueError:
                pass
        return hostname

    def remote_user(self) -> str:
        return self.current("user") or self.local["u"]

    def exec_tokens(self) -> dict[str, str]:
        host = self.match_host()
        return {**self.local, "h": host, "n": self.original, "p": self.current("port") or "22",
                "r": self.remote_user(), "k": self.current("hostkeyalias") or host}


def _final_host(hostname: str | None, name: str) -> str:
    """The host name OpenSSH's final pass matches (ssh.c between the passes): the HostName
    with %h expanded, else the name given, in lower case unless an address."""
    host = name
    if hostname is not None:
        try:
            host = expand_tokens(hostname, {"h": name})
        except ValueError:
            host = hostname
    try:
        ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host.lower()
    return host


@dataclass(frozen=True)
class Block:
    """A run of options under one chain of conditions, in file order.

    ``chain`` holds the keys of the conditions that must all apply: the ``Host``/``Match`` line
    the options follow, after those of the blocks whose ``Include`` read their file. An Include in
    the middle of a block splits it into two blocks with the same chain, so that file order and
    OpenSSH's "first obtained value wins" hold across files.
    """

    chain: tuple[int, ...]
    options: tuple[tuple[str, tuple[str, ...], int], ...]  # (keyword, arguments, line)


#: OpenSSH's READCONF_MAX_DEPTH: Includes nested deeper are an error.
MAX_INCLUDE_DEPTH = 16
MAX_CONFIG_BYTES = 4 * 1024 * 1024


#: ``Keyword value``, ``Keyword=value`` or ``Keyword = value``: the keyword, then the rest.
_LINE = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$")


def _split(text: str, where: Where) -> tuple[str, list[str]]:
    """``Keyword value``, ``Keyword=value`` or ``Keyword = value``, with "quoted" arguments."""
    match = _LINE.match(text)
    if not match:
        raise InputError("not an ssh_config line (expected: Keyword value)", where)
    try:
        args = shlex.split(match.group(2), comments=False, posix=True)
    except ValueError as error:
        raise InputError(f"bad quoting: {error}", where) from None
    return match.group(1).lower(), args


class SshConfig:
    """An OpenSSH client config file and the files it includes, parsed once: its blocks in
    order and the conditions they depend on."""

    def __init__(self, blocks: list[Block], path: str = "",
                 conditions: dict[int, Condition] | None = None,
                 files: tuple[tuple[str, tuple | None], ...] = ()):
        self.blocks = blocks
        self.path = path
        self.conditions = conditions or {}
        self.files = files  # every file read, with its identity when read (see ``fresh``)
        #: OpenSSH reads the files a second time when a Match line says ``final`` (even in a
        #: block or included file that does not apply): ``final``/``canonical`` hold there.
        self.wants_final = any(c.match is not None and c.match.wants_final
                               for c in self.conditions.values())

    @classmethod
    def parse(cls, text: str, path: str = "ssh_config", read=None) -> SshConfig:
        """Parse ``text`` (the file at ``path``); ``read(path)`` gives an included file's text.

        :raises InputError: a line orch cannot honour, naming the file and line.
        """
        parser = _Parser(read or _read_included)
        parser.file(text, path, (), 0)
        return cls(parser.blocks, path, parser.conditions, tuple(parser.files))

    def fresh(self) -> bool:
        """Whether every included file is still the one that was read."""
        return all(_identity(path) == identity for path, identity in self.files)

    def lookup(self, name: str, preset: Mapping[str, tuple[str, ...]] | None = None,
               runner: Runner | None = None,
               local: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
        """The options for ``name`` (first obtained value wins; IdentityFile accumulates,
        without repeats, as OpenSSH's add_identity_file).

        ``preset``: what was obtained before the file (the inventory and ``ansible_ssh_*_args``,
        ssh's command line): ``Match user``, ``Match host`` and exec's tokens see it first.
        With a ``Match final`` line, a second pass as OpenSSH's: ``Host`` lines and
        ``Match host`` see the resolved host name, and only options not yet set are taken.

        :raises InputError: a ``Match exec`` command that cannot run, naming file and line.
        """
        found: dict[str, tuple[str, ...]] = {}
        preset = preset or {}
        runner = runner or _RUNNER
        local = local or _local_tokens()
        self._pass(_Pass(name, name, False, preset, found, runner, local))
        if self.wants_final:
            hostname = (preset.get("hostname") or found.get("hostname") or (None,))[0]
            host = _final_host(hostname, name)
            if hostname is None:  # ssh.c sets it between the passes: no HostName line wins
                found["hostname"] = (host,)
            self._pass(_Pass(host, name, True, preset, found, runner, local))
        return found

    def _pass(self, state: _Pass) -> None:
        found = state.found
        decided: dict[int, bool] = {}
        for block in self.blocks:
            if not self._applies(block.chain, decided, state):
                continue
            for keyword, args, _ in block.options:
                if keyword in _MULTI:
                    have = found.get(keyword, ())
                    found[keyword] = have + tuple(arg for arg in args if arg not in have)
                elif keyword not in found:
                    found[keyword] = args

    def _applies(self, chain: tuple[int, ...], decided: dict[int, bool], state: _Pass) -> bool:
        for key in chain:
            applied = decided.get(key)
            if applied is None:  # decided once, with the options obtained at its line
                condition = self.conditions[key]
                applied = decided[key] = (
                    condition.patterns.matches(state.host_arg) if condition.match is None
                    else condition.match.applies(state))
            if not applied:
                return False
        return True


class _Parser:
    """Reads a config file and, in place, the files its ``Include`` lines name."""

    def __init__(self, read):
        self.read = read
        self.blocks: list[Block] = []
        self.conditions: dict[int, Condition] = {}
        self.files: list[tuple[str, tuple | None]] = []

    def _condition(self, condition: Condition) -> int:
        key = len(self.conditions) + 1
        self.conditions[key] = condition
        return key

    def file(self, text: str, path: str, outer: tuple[int, ...], depth: int) -> None:
        chain, options = outer, []

        def close() -> None:
            if options:
                self.blocks.append(Block(chain, tuple(options)))

        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            where = Where(path, number)
            keyword, args = _split(line, where)
            if keyword == "host":
                if not args:
                    raise InputError("Host needs at least one pattern", where)
                close()
                condition = Condition(Patterns(args, lower=False))
                chain, options = outer + (self._condition(condition),), []
            elif keyword == "match":
                close()
                condition = Condition(None, parse_match(args, where))
                chain, options = outer + (self._condition(condition),), []
            elif keyword == "include":
                if not args:
                    raise InputError("Include needs a file", where)
                close()
                options = []
                for included in _include_paths(args):
                    if depth + 1 > MAX_INCLUDE_DEPTH:
                        raise InputError(f"Include nested deeper than {MAX_INCLUDE_DEPTH} "
                                         "files (a loop?)", where)
                    self.files.append((included, _identity(included)))
                    self.file(self.read(included, where), included, chain, depth + 1)
            elif keyword in REFUSED:
                raise InputError(f"{keyword_name(keyword)} is not supported by orch", where)
            elif keyword in SUPPORTED:
                if not args:
                    raise InputError(f"{keyword_name(keyword)} needs a value", where)
                if keyword == "proxycommand":  # kept as written; split and %-expanded per host
                    args = [_value_text(line)]
                    if args[0].lower() != "none":
                        try:
                            command_words(args[0])
                        except ValueError as error:
                            raise InputError(str(error), where) from None
                options.append((keyword, tuple(args), number))
            # any other keyword: an ssh option orch has no use for (Ciphers, ForwardAgent …)
        close()


def _value_text(line: str) -> str:
    """What follows the keyword on a config line (already read by ``_split``), unsplit."""
    return _LINE.match(line).group(2).strip()


_SHELL_OPERATORS = set("();<>|&")


def command_words(text: str) -> list[str]:
    """A ProxyCommand as the argv orch runs, without a shell (OpenSSH hands it to ``$SHELL``).

    Quotes and backslashes work as in a shell; a leading ``exec`` (common, since OpenSSH runs
    ``exec COMMAND``) is dropped.

    :raises ValueError: shell syntax outside quotes (a pipe, ``;``, ``&&``, a redirection), which
        needs a shell: the message says to write it as ``sh -c '…'``.
    """
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError as error:
        raise ValueError(f"ProxyCommand: bad quoting ({error})") from None
    for word in words:
        if word and set(word) <= _SHELL_OPERATORS:
            raise ValueError(f"ProxyCommand: {word!r} needs a shell, and orch runs the command "
                             f"without one: write it as sh -c '…'")
    if words[:1] == ["exec"]:
        words = words[1:]
    if not words:
        raise ValueError("ProxyCommand: no command")
    return words


def _include_paths(args: list[str]) -> list[str]:
    """The files of an ``Include`` line as OpenSSH finds them for a user config: a relative
    path is under ~/.ssh, ``~`` is the home folder, wildcards expand in lexical order, and a
    pattern that matches nothing is skipped."""
    found = []
    for arg in args:
        if arg.startswith("~"):
            path = _home() + arg[1:]
        elif arg.startswith("/"):
            path = arg
        else:
            path = os.path.join(_home(), ".ssh", arg)
        found.extend(sorted(glob.glob(path)) if glob.has_magic(path) else
                     ([path] if os.path.exists(path) else []))
    return found


def _identity(path: str) -> tuple | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _read_included(path: str, where: Where) -> str:
    """An included file's text, refused (as OpenSSH refuses it) when someone other than root
    or this user owns it or others may write it."""
    from orch.config import decode_text, read_regular_file

    try:
        info = os.stat(path)
    except OSError as error:
        raise InputError(f"Include {path}: {error.strerror}", where) from None
    if (info.st_uid not in (0, os.getuid())) or info.st_mode & 0o022:
        raise InputError(f"Include {path}: bad owner or permissions (must be owned by you or "
                         "root and not writable by group or others)", where)
    data = read_regular_file(path, "ssh_config", MAX_CONFIG_BYTES)
    return decode_text(data, "ssh_config", Where(path))


def keyword_name(keyword: str) -> str:
    names = {"proxyjump": "ProxyJump", "proxycommand": "ProxyCommand", "hostname": "HostName",
             "identityfile": "IdentityFile", "identitiesonly": "IdentitiesOnly",
             "userknownhostsfile": "UserKnownHostsFile", "hostkeyalias": "HostKeyAlias",
             "stricthostkeychecking": "StrictHostKeyChecking", "include": "Include",
             "connecttimeout": "ConnectTimeout", "serveraliveinterval": "ServerAliveInterval",
             "canonicalizehostname": "CanonicalizeHostname", "localcommand": "LocalCommand",
             "remotecommand": "RemoteCommand", "certificatefile": "CertificateFile",
             "pkcs11provider": "PKCS11Provider", "securitykeyprovider": "SecurityKeyProvider",
             "knownhostscommand": "KnownHostsCommand", "identityagent": "IdentityAgent",
             "tag": "Tag"}
    return names.get(keyword, keyword.capitalize())


@functools.lru_cache(maxsize=256)
def parse_args(text: str) -> tuple[tuple[str, str], ...] | str:
    """``ansible_ssh_*_args`` as ``(keyword, value)`` pairs, in order; a str: the refused option.

    Cached: a group variable is the same text on every host of the group.
    """
    try:
        words = shlex.split(text)
    except ValueError as error:
        return f"cannot split ({error})"
    found = []
    index = 0
    while index < len(words):
        word = words[index]
        flag, attached = word[:2], word[2:]
        if word in IGNORED_FLAGS:
            index += 1
            continue
        if flag == "-o" or flag in _FLAG_OPTION:
            if attached:
                value = attached
            elif index + 1 < len(words):
                index += 1
                value = words[index]
            else:
                return f"{word} (no value)"
            if flag == "-o":
                keyword, _, rest = value.partition("=")
                if not _:
                    keyword, _, rest = value.partition(" ")
                keyword = keyword.strip().lower()
                if keyword in IGNORED or keyword in IGNORED_IN_ARGS:
                    index += 1
                    continue
                if keyword not in SUPPORTED:
                    return f"-o {value}"
                found.append((keyword, rest.strip()))
            else:
                found.append((_FLAG_OPTION[flag], value))
            index += 1
            continue
        return word
    return tuple(found)


def _parse_hop(text: str) -> tuple[str | None, str, int | None]:
    user, _, rest = text.rpartition("@") if "@" in text else (None, "", text)
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = rest.partition(":")
    if not host:
        raise ValueError(f"bad jump host {text!r}")
    return user or None, host, int(port) if port else None


@dataclass(frozen=True)
class Settings:
    """orch.cfg's part: the fallbacks below the OpenSSH config file."""

    ssh_user: str = ""
    ssh_key: str = ""
    connect_timeout: float = 10.0
    known_hosts: tuple[str, ...] = ("~/.ssh/known_hosts",)
    global_known_hosts: tuple[str, ...] = GLOBAL_KNOWN_HOSTS
    host_key_policy: str = "strict"
    keepalive_interval: float = 15.0

    @classmethod
    def of(cls, config) -> Settings:
        default_kh = (config.sources or {}).get("known_hosts", "default") == "default"
        return cls(ssh_user=config.ssh_user or "", ssh_key=config.ssh_key or "",
                   connect_timeout=float(config.connect_timeout),
                   known_hosts=(config.known_hosts,) if config.known_hosts else
                   ("~/.ssh/known_hosts",),
                   global_known_hosts=GLOBAL_KNOWN_HOSTS if default_kh else (),
                   host_key_policy=config.host_key_policy)


class Resolver:
    """Resolves hosts to ``Target``s against one parsed config file and orch.cfg's settings."""

    def __init__(self, ssh_config: SshConfig | None, settings: Settings,
                 environ: Mapping[str, str] | None = None):
        self.ssh_config = ssh_config or SshConfig([])
        self.settings = settings
        environ = os.environ if environ is None else environ
        self.agent = environ.get("SSH_AUTH_SOCK", "")
        self._local = _local_tokens()
        self._hops: dict[tuple, Target] = {}
        self.runner = Runner()  # Match exec results, shared by the hosts of a resolution

    def target(self, host) -> Target:
        """The ``Target`` of an inventory host (``name`` and ``vars``).

        :raises InputError: a refused option in ``ansible_ssh_*_args``, or a bad value; it
            names the host and the variable, before anything is sent.
        """
        variables = getattr(host, "vars", None) or {}
        name = host.name
        given = _var(variables, "ansible_host", "ansible_ssh_host") or name
        first: dict[str, tuple[str, ...]] = {}
        sources: dict[str, str] = {}

        def put(keyword: str, value: str, source: str) -> None:
            if keyword in _MULTI:
                first[keyword] = first.get(keyword, ()) + (value,)
                sources.setdefault(keyword, source)
            elif keyword not in first:
                first[keyword] = (value,)
                sources[keyword] = source

        port = _var(variables, "ansible_port", "ansible_ssh_port")
        if port is not None:
            put("port", str(host.port), "inventory")  # host.port validates it
        user = _var(variables, "ansible_user", "ansible_ssh_user")
        if user is not None:
            put("user", user, "inventory")
        key = _var(variables, "ansible_ssh_private_key_file", "ansible_private_key_file")
        if key is not None:
            put("identityfile", key, "inventory")
        for variable in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
            text = _var(variables, variable)
            if not text:
                continue
            parsed = parse_args(text)
            if isinstance(parsed, str):
                raise InputError(
                    f"{variable}: option {parsed} is not supported by orch (honoured: -o with "
                    f"{', '.join(sorted(keyword_name(k) for k in SUPPORTED))}; -J, -p, -l, -i)",
                    Where(path=f"host {name}: {variable}"))
            for keyword, value in parsed:
                put(keyword, value, variable)
        return self._finish(name, given, first, sources, Where(path=f"host {name}"), ())

    def _finish(self, name: str, given: str, first: dict, sources: dict, where: Where,
                seen: tuple[str, ...]) -> Target:
        found = self.ssh_config.lookup(given, first, self.runner, self._local)
        for keyword, args in found.items():
            if keyword in _MULTI:
                first[keyword] = first.get(keyword, ()) + args
                sources.setdefault(keyword, "ssh_config")
            elif keyword not in first:
                first[keyword] = args
                sources[keyword] = "ssh_config"
        settings = self.settings

        def one(keyword: str) -> str | None:
            values = first.get(keyword)
            return values[0] if values else None

        try:
            hostname = expand_tokens(one("hostname") or given, {"h": given})
            port = _port(one("port") or "22")
            user = one("user") or settings.ssh_user or self._local["u"]
            tokens = {**self._local, "h": hostname, "n": given, "p": str(port), "r": user}
            identities = [(expand_path(path, tokens), sources.get("identityfile", ""))
                          for path in first.get("identityfile", ())]
            if not identities and settings.ssh_key:
                identities = [(settings.ssh_key, "orch.cfg")]
            if not identities:
                identities = [(expand_path(path, tokens), "default")
                              for path in DEFAULT_IDENTITIES]
            known = first.get("userknownhostsfile")
            known_files = (tuple(expand_path(p, tokens) for p in known) if known
                           else tuple(expand_path(p, tokens) for p in settings.known_hosts))
            global_files = first.get("globalknownhostsfile") or (
                settings.global_known_hosts if not known else GLOBAL_KNOWN_HOSTS)
            strict = (one("stricthostkeychecking") or "").lower()
            policy = {"accept-new": "accept-new", "no": "accept-new", "off": "accept-new",
                      "yes": "strict", "ask": "strict", "": settings.host_key_policy}.get(strict)
            if policy is None:
                raise ValueError(f"StrictHostKeyChecking {strict!r} (yes, accept-new)")
            timeout = float(one("connecttimeout") or settings.connect_timeout)
            keepalive = float(one("serveraliveinterval") or settings.keepalive_interval)
            only = (one("identitiesonly") or "no").lower() in ("yes", "true")
            agent_setting = one("identityagent")
            agent = self.agent if agent_setting in (None, "SSH_AUTH_SOCK") else (
                "" if agent_setting.lower() == "none" else expand_path(agent_setting, tokens))
            jump_text = one("proxyjump")
            proxy_text = one("proxycommand")
            if jump_text and proxy_text:  # as OpenSSH: the first obtained one wins
                order = list(first)
                if order.index("proxyjump") < order.index("proxycommand"):
                    proxy_text = None
                else:
                    jump_text = None
            proxy_command = ()
            if proxy_text and proxy_text.lower() != "none":
                proxy_command = tuple(
                    expand_tokens(word, {"h": hostname, "n": given, "p": str(port), "r": user})
                    for word in command_words(proxy_text))
        except ValueError as error:
            raise InputError(f"bad SSH setting: {error}", where) from None
        jump = None
        if jump_text and jump_text.lower() != "none":
            jump = self._chain(jump_text, where, seen + (given,))
        return Target(
            name=name, address=hostname, port=port, user=user,
            key=identities[0][0] if identities[0][1] != "default" else None,
            identities=tuple(identities), identities_only=only, agent=agent, jump=jump,
            known_hosts=known_files, global_known_hosts=tuple(global_files),
            host_key_alias=one("hostkeyalias") or "", host_key_policy=policy,
            connect_timeout=timeout, keepalive_interval=keepalive, given=given,
            proxy_command=proxy_command)

    def _chain(self, text: str, where: Where, seen: tuple[str, ...]) -> Target:
        """The last hop of ``a,b,c``; each hop's ``jump`` is the one before it."""
        previous: Target | None = None
        for number, hop in enumerate(text.split(",")):
            try:
                user, host, port = _parse_hop(hop.strip())
            except ValueError as error:
                raise InputError(f"ProxyJump: {error}", where) from None
            if host in seen:
                raise InputError(f"ProxyJump loops back to {host}", where)
            key = (user, host, port, previous)
            target = self._hops.get(key)
            if target is None:
                first: dict = {}
                if port is not None:
                    first["port"] = (str(port),)
                if user:
                    first["user"] = (user,)
                if number:  # later hops go through the earlier ones, not their own ProxyJump
                    first["proxyjump"] = ("none",)
                target = self._finish(host, host, first, {}, where, seen)
                if previous is not None:
                    target = replace(target, jump=previous)
                self._hops[key] = target
            previous = target
        assert previous is not None
        return previous


def _var(variables: Mapping, *names: str) -> str | None:
    for name in names:
        value = variables.get(name)
        if value not in (None, ""):
            return str(value)
    return None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise ValueError(f"Port must be a port number, got {text!r}")
    return port


def load(path: str) -> SshConfig:
    """The config file at ``path`` (no file: an empty config)."""
    from orch.config import decode_text, read_regular_file

    if not path or not os.path.exists(path):
        return SshConfig([], path)
    data = read_regular_file(path, "ssh_config", MAX_CONFIG_BYTES)
    return SshConfig.parse(decode_text(data, "ssh_config", Where(path)), path)


_CACHE: dict[tuple, Resolver] = {}
_RUNNER = Runner()


def resolver(config) -> Resolver:
    """The resolver for orch.cfg ``config`` and the current environment, built once: the config
    file is read again only when it changed (its inode, size or time) or HOME moved."""
    path = getattr(config, "ssh_config", "") or ""
    try:
        info = os.stat(path) if path else None
        identity = (info.st_ino, info.st_size, info.st_mtime_ns) if info else None
    except OSError:
        identity = None
    key = (config, path, identity, os.environ.get("HOME"), os.environ.get("SSH_AUTH_SOCK"))
    found = _CACHE.get(key)
    if found is None or not found.ssh_config.fresh():
        if len(_CACHE) > 8:
            _CACHE.clear()
        found = _CACHE[key] = Resolver(load(path) if identity else None, Settings.of(config))
    return found


def describe(target: Target) -> list[tuple[str, str]]:
    """``ssh -G``-like lines for ``target``: (keyword, value)."""
    lines = [("host", target.name), ("hostname", target.address), ("port", str(target.port)),
             ("user", target.user or "")]
    lines.append(("identityagent", target.agent or "none"))
    for path, source in target.identities:
        lines.append(("identityfile", f"{path} ({source})"))
    lines.append(("identitiesonly", "yes" if target.identities_only else "no"))
    lines.append(("proxyjump", " -> ".join(jump_chain(target)) or "none"))
    lines.append(("proxycommand", shlex.join(target.proxy_command) or "none"))
    lines.append(("userknownhostsfile", " ".join(target.known_hosts)))
    lines.append(("globalknownhostsfile", " ".join(target.global_known_hosts) or "none"))
    lines.append(("hostkeyalias", target.host_key_alias or "none"))
    lines.append(("stricthostkeychecking", "yes" if target.host_key_policy == "strict"
                  else "accept-new"))
    lines.append(("connecttimeout", f"{target.connect_timeout:g}"))
    lines.append(("serveraliveinterval", f"{target.keepalive_interval:g}"))
    return lines


def jump_chain(target: Target) -> list[str]:
    """The hops before ``target``, outermost first, as ``user@host:port``."""
    hops = []
    hop = target.jump
    while hop is not None:
        hops.append(f"{hop.user}@{hop.address}:{hop.port}" if hop.address == hop.name
                    else f"{hop.name} ({hop.user}@{hop.address}:{hop.port})")
        hop = hop.jump
    return list(reversed(hops))


__all__ = ["Resolver", "Settings", "SshConfig", "describe", "expand_path", "jump_chain", "load",
           "parse_args", "resolver"]
