"""``Match`` lines of ssh_config, evaluated as OpenSSH's ``match_cfg_line`` (readconf.c) does.

A ``Match`` line is a list of criteria that must all hold: ``all``, ``canonical``, ``final``,
``host``, ``originalhost``, ``user``, ``localuser``, ``localnetwork``, ``tagged`` and ``exec``,
each may be negated with ``!`` and written ``criterion=value`` too. What each one sees is the
state of the options at that line: ``host`` the HostName obtained so far with ``%h`` expanded
(in the final pass: the resolved host name), ``user`` the User obtained so far (the inventory's
and ``-l``'s first, as ssh's command line), else the local user. ``final`` and ``canonical`` hold
only in the second pass that OpenSSH makes when some line says ``Match final``.

``exec`` runs its command without a shell, as orch runs ProxyCommand: the words are split as a
shell splits them, anything needing a shell (``$``, globs, pipes, ``;``, redirections, ``~user``)
is refused with file:line, and a leading ``~/`` is the home folder. Results are cached per
expanded argv for a few seconds, so that resolving 200 hosts forks once per distinct command.

``version``, ``command`` and ``sessiontype`` are refused: orch does not run ssh (no version)
and runs no remote command or session of the kind those criteria describe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from orch.errors import InputError, Where

#: Seconds a ``Match exec`` command may run before orch gives up on the resolution.
EXEC_TIMEOUT = 10.0
#: Seconds an exec result (and the interface list) stays valid: one resolution of a fleet.
CACHE_SECONDS = 10.0

#: Criteria that take ``criterion=value`` as well as ``criterion value`` (OpenSSH's list).
_EQUALS_FORM = {"host", "originalhost", "user", "localuser", "localnetwork", "version",
                "tagged", "command", "exec"}
_REFUSED = {
    "version": "orch does not run ssh, so there is no OpenSSH version to match",
    "command": "orch runs no remote command through ssh",
    "sessiontype": "orch opens no ssh session of that kind",
}
_WITH_ARGUMENT = {"host", "originalhost", "user", "localuser", "localnetwork", "tagged", "exec"}
_EXEC_TOKENS = set("Ldhklnprui%")
_EXEC_REFUSED_TOKENS = {"C": "its hash differs between OpenSSH versions",
                        "j": "it exists only in OpenSSH 10 and later"}


class Patterns:
    """An OpenSSH pattern list (``*`` and ``?``; ``!`` negates): any negative match fails,
    else any positive one matches. ``lower``: compared in lower case (host names)."""

    __slots__ = ("positive", "negative", "lower")

    def __init__(self, patterns: list[str], lower: bool):
        self.lower = lower
        if lower:
            patterns = [p.lower() for p in patterns]
        positive = [_glob(p) for p in patterns if not p.startswith("!")]
        negative = [_glob(p[1:]) for p in patterns if p.startswith("!")]
        self.positive = re.compile("|".join(positive), re.S) if positive else None
        self.negative = re.compile("|".join(negative), re.S) if negative else None

    def matches(self, name: str) -> bool:
        if self.lower:
            name = name.lower()
        if self.negative is not None and self.negative.fullmatch(name):
            return False
        return self.positive is not None and self.positive.fullmatch(name) is not None


def _glob(pattern: str) -> str:
    """OpenSSH's ``match_pattern``: ``*`` any run, ``?`` one character, nothing else special."""
    return "(?:" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                           for c in pattern) + ")"


@dataclass(frozen=True)
class Criterion:
    kind: str
    negate: bool
    patterns: Patterns | None = None  # host, originalhost, user, localuser, tagged
    text: str = ""  # as written (tagged: "" matches an empty Tag only; exec: the command)
    words: tuple[str, ...] = ()  # exec: argv with %-tokens, ``~/`` written as %d
    networks: tuple = ()  # localnetwork


@dataclass(frozen=True)
class MatchLine:
    """One ``Match`` line: its criteria (all must hold) and where it is."""

    criteria: tuple[Criterion, ...]
    where: Where

    @property
    def wants_final(self) -> bool:
        """Whether OpenSSH makes a second pass for it (10.1+: ``final``, not ``!final``)."""
        return any(c.kind == "final" and not c.negate for c in self.criteria)

    def applies(self, state) -> bool:
        """Whether the line holds for ``state`` (a ``sshconfig._Pass``); criteria in order,
        stopping at the first that fails (OpenSSH skips later ``exec`` commands likewise)."""
        for criterion in self.criteria:
            kind = criterion.kind
            if kind == "all":
                return not criterion.negate
            if kind in ("final", "canonical"):
                found = state.final
            elif kind == "host":
                found = criterion.patterns.matches(state.match_host())
            elif kind == "originalhost":
                found = criterion.patterns.matches(state.original)
            elif kind == "user":
                found = criterion.patterns.matches(state.remote_user())
            elif kind == "localuser":
                found = criterion.patterns.matches(state.local["u"])
            elif kind == "tagged":
                tag = state.current("tag") or ""
                found = criterion.text == "" if tag == "" else criterion.patterns.matches(tag)
            elif kind == "localnetwork":
                found = state.runner.on_network(criterion.networks, self.where)
            else:  # exec
                argv = tuple(_expand(word, state.exec_tokens()) for word in criterion.words)
                found = state.runner.run(argv, self.where)
            if found == criterion.negate:
                return False
        return True


def parse_match(args: list[str], where: Where) -> MatchLine:
    """A ``Match`` line's words (after the keyword, unquoted) as a ``MatchLine``.

    :raises InputError: a criterion orch cannot evaluate or a malformed line, naming the
        criterion; the caller's ``where`` gives file and line.
    """
    criteria: list[Criterion] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word.startswith("#"):
            break
        negate = word.startswith("!")
        name = word[1:] if negate else word
        value = None
        head, equals, tail = name.partition("=")
        if equals and head.lower() in _EQUALS_FORM:
            name, value = head, tail
        kind = name.lower()
        if kind == "all":
            rest = args[index:index + 1]
            if len(criteria) > 1 or (rest and rest[0] and not rest[0].startswith("#")):
                raise InputError(f"Match: '{word}' cannot be combined with other criteria",
                                 where)
            criteria.append(Criterion("all", negate))
            break
        if kind in ("final", "canonical"):
            criteria.append(Criterion(kind, negate))
            continue
        if kind in _REFUSED:
            raise InputError(f"Match {name}: not supported by orch ({_REFUSED[kind]})", where)
        if kind not in _WITH_ARGUMENT:
            raise InputError(f"Match {name}: unknown criterion (orch supports all, canonical, "
                             "final, host, originalhost, user, localuser, localnetwork, tagged, "
                             "exec)", where)
        if value is None:
            if index >= len(args):
                raise InputError(f"Match {name}: missing argument", where)
            value = args[index]
            index += 1
        if (value == "" and kind != "tagged") or value.startswith("#"):
            raise InputError(f"Match {name}: missing argument", where)
        criteria.append(_criterion(kind, negate, value, where))
    if not criteria:
        raise InputError("Match needs at least one criterion", where)
    return MatchLine(tuple(criteria), where)


def _criterion(kind: str, negate: bool, value: str, where: Where) -> Criterion:
    if kind in ("host", "originalhost"):
        return Criterion(kind, negate, Patterns(value.split(","), lower=True), value)
    if kind in ("user", "localuser", "tagged"):
        return Criterion(kind, negate, Patterns(value.split(","), lower=False), value)
    if kind == "localnetwork":
        try:
            networks = tuple(_network(entry) for entry in value.split(","))
        except ValueError as error:
            raise InputError(f"Match localnetwork {value}: {error}", where) from None
        return Criterion(kind, negate, text=value, networks=networks)
    try:
        words = exec_words(value)
    except ValueError as error:
        raise InputError(f"Match exec {value!r}: {error}", where) from None
    return Criterion(kind, negate, text=value, words=tuple(words))


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR entry as OpenSSH's ``addr_pton_cidr`` takes it: no host bits set, a bare address
    is one host."""
    if not entry:
        raise ValueError("empty entry in the list")
    if set(entry) - set("0123456789abcdefABCDEF.:/"):
        raise ValueError(f"{entry!r} is not an address or network")
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError:
        raise ValueError(f"{entry!r} is not a network (address/bits, no host bits set)") from None


# ------------------------------------------------------------------ exec: words without a shell

_OPERATORS = set(";&|<>()")
_RESERVED = {"!", "{", "}", "if", "then", "else", "elif", "fi", "case", "esac", "for", "while",
             "until", "do", "done", "[[", "function"}


def exec_words(text: str) -> list[str]:
    """``Match exec``'s command as the argv orch runs, words split as ``sh`` splits them.

    Quotes and backslashes work as in sh; a word starting with ``~/`` (or ``~`` alone) starts
    in the home folder (written ``%d``, so that it expands with the other tokens); a leading
    ``exec`` is dropped. Percent signs are kept: each word is %-expanded per host.

    :raises ValueError: anything a shell would do that running the words directly would not
        (variables, globs, command substitution, pipes and lists, redirections, comments,
        ``~user``, ``VAR=value`` prefixes, reserved words): the message says to write it as
        ``sh -c '…'``.
    """
    words: list[str] = []
    word: list[str] = []
    started = False  # inside a word (quotes may make an empty one)
    index, length = 0, len(text)

    def shell(what: str) -> ValueError:
        return ValueError(f"{what} needs a shell, and orch runs the command without one: "
                          "write it as sh -c '…'")

    while index < length:
        char = text[index]
        if char in " \t\n":
            if started:
                words.append("".join(word))
                word, started = [], False
            index += 1
            continue
        if char == "'":
            end = text.find("'", index + 1)
            if end < 0:
                raise ValueError("bad quoting (no closing quotation)")
            word.append(text[index + 1:end])
            index, started = end + 1, True
            continue
        if char == '"':
            index += 1
            while True:
                if index >= length:
                    raise ValueError("bad quoting (no closing quotation)")
                inner = text[index]
                if inner == '"':
                    break
                if inner in "$`":
                    raise shell(f"{inner!r} (an expansion)")
                if inner == "\\" and index + 1 < length and text[index + 1] in '$`"\\\n':
                    word.append(text[index + 1])
                    index += 2
                    continue
                word.append(inner)
                index += 1
            index, started = index + 1, True
            continue
        if char == "\\":
            if index + 1 >= length:
                raise ValueError("bad quoting (a backslash at the end)")
            word.append(text[index + 1])
            index, started = index + 2, True
            continue
        if char in _OPERATORS:
            raise shell(repr(char))
        if char in "$`":
            raise shell(f"{char!r} (an expansion)")
        if char in "*?" or (char == "[" and "]" in _rest_of_word(text, index)):
            raise shell(f"{char!r} (a file name pattern)")
        if not started and char == "#":
            raise shell("'#' (a comment)")
        if not started and char == "~":
            after = _rest_of_word(text, index)
            if after not in ("~",) and not after.startswith("~/"):
                raise shell(f"{after.split('/')[0]!r} (another user's home)")
            word.append("%d")
            index, started = index + 1, True
            continue
        if not words and not started and re.match(r"[A-Za-z_][A-Za-z0-9_]*=", text[index:]):
            raise shell("a VAR=value prefix")
        word.append(char)
        index, started = index + 1, True
    if started:
        words.append("".join(word))
    if words[:1] == ["exec"]:
        words = words[1:]
    if not words:
        raise ValueError("no command")
    if words[0] in _RESERVED:
        hint = " (for a negation write Match !exec …)" if words[0] == "!" else ""
        raise shell(f"{words[0]!r}{hint}")
    for word in words:
        for letter in re.findall(r"%(.)", word.replace("%%", "")):
            if letter in _EXEC_REFUSED_TOKENS:
                raise ValueError(f"%{letter} is not supported by orch "
                                 f"({_EXEC_REFUSED_TOKENS[letter]})")
            if letter not in _EXEC_TOKENS:
                raise ValueError(f"unknown token %{letter}")
    return words


_WORD_REST = re.compile(r"[^\s'\"\\]*")


def _rest_of_word(text: str, index: int) -> str:
    return _WORD_REST.match(text, index).group(0)


def _expand(word: str, tokens) -> str:
    if "%" not in word:
        return word
    return re.sub(r"%(.)", lambda m: "%" if m.group(1) == "%" else tokens[m.group(1)], word)


# ------------------------------------------------------------------ running and interfaces

class Runner:
    """Runs ``Match exec`` commands and reads the interface addresses, each result kept for
    ``CACHE_SECONDS``: a fleet's resolution forks once per distinct argv."""

    def __init__(self, timeout: float = EXEC_TIMEOUT, keep: float = CACHE_SECONDS):
        self.timeout = timeout
        self.keep = keep
        self._results: dict[tuple[str, ...], tuple[bool, float]] = {}
        self._addresses: tuple[frozenset, float] | None = None
        self.runs = 0  # how many commands were started (tests and ``orch ssh-config``)

    def run(self, argv: tuple[str, ...], where: Where) -> bool:
        now = time.monotonic()
        cached = self._results.get(argv)
        if cached is not None and now - cached[1] < self.keep:
            return cached[0]
        shown = shlex.join(argv)
        self.runs += 1
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise InputError(f"Match exec {shown}: no exit status within {self.timeout:g} s",
                             where) from None
        except OSError as error:
            raise InputError(f"Match exec {shown}: cannot run {argv[0]}: "
                             f"{error.strerror or error} (orch runs it without a shell; for a "
                             "shell builtin write it as sh -c '…')", where) from None
        if done.returncode < 0:
            raise InputError(f"Match exec {shown}: killed by signal {-done.returncode}", where)
        if len(self._results) > 1024:
            self._results.clear()
        self._results[argv] = (done.returncode == 0, now)
        return done.returncode == 0

    def on_network(self, networks: tuple, where: Where) -> bool:
        now = time.monotonic()
        if self._addresses is None or now - self._addresses[1] >= self.keep:
            try:
                self._addresses = (frozenset(interface_addresses()), now)
            except OSError as error:
                raise InputError(f"Match localnetwork: cannot list this machine's interface "
                                 f"addresses: {error}", where) from None
        return any(address in network for address in self._addresses[0]
                   for network in networks if address.version == network.version)


class _Sockaddr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_ubyte * 26)]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [("next", ctypes.POINTER(_Ifaddrs)), ("name", ctypes.c_char_p),
                     ("flags", ctypes.c_uint), ("addr", ctypes.POINTER(_Sockaddr)),
                     ("netmask", ctypes.POINTER(_Sockaddr)), ("ifu", ctypes.c_void_p),
                     ("data", ctypes.c_void_p)]
_IFF_UP = 0x1


def interface_addresses() -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The IPv4 and IPv6 addresses of this machine's interfaces that are up, from
    ``getifaddrs(3)`` as OpenSSH's ``check_match_ifaddrs`` reads them.

    :raises OSError: no ``getifaddrs`` here (only Linux's sockaddr layout is read) or it failed.
    """
    if not sys.platform.startswith("linux"):
        raise OSError("only read on Linux")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    head = ctypes.POINTER(_Ifaddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    found = []
    try:
        entry = head
        while entry:
            item = entry.contents
            if item.addr and item.flags & _IFF_UP:
                family = item.addr.contents.family
                raw = bytes(item.addr.contents.data)  # after the 2-byte family
                if family == socket.AF_INET:
                    found.append(ipaddress.IPv4Address(raw[2:6]))
                elif family == socket.AF_INET6:
                    found.append(ipaddress.IPv6Address(raw[6:22]))
            entry = item.next
    finally:
        libc.freeifaddrs(head)
    return found


__all__ = ["CACHE_SECONDS", "EXEC_TIMEOUT", "MatchLine", "Patterns", "Runner", "exec_words",
           "interface_addresses", "parse_match"]
