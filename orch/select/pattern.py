"""Name patterns: exact names, shell globs and MCollective's ``/regex/``.

MCollective wrote regular expressions in Ruby: ``/web\\d+/`` matches anywhere in the string,
``^`` and ``$`` anchor at line boundaries, matching is case sensitive unless the expression
ends in ``/i``. This module translates that dialect to Python's ``re`` once, at parse time,
so a bad expression is an InputError before any host is looked at.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from dataclasses import dataclass

from orch.errors import InputError, Where

#: The longest regular expression accepted, in characters: compiling is not free, and a
#: length cap is the one bound that can be set on what matching a hostile pattern costs.
MAX_REGEX_LENGTH = 16 * 1024
_RUBY_FLAGS = {"i": re.IGNORECASE, "m": re.DOTALL, "x": re.VERBOSE}
_SLASHED = re.compile(r"^/(?P<source>.*)/(?P<flags>[imx]*)$", re.DOTALL)


def _translate(source: str) -> str:
    """Ruby regex syntax → Python's, for the constructs that differ (``\\z``, ``\\h``, ``(?<n>``)."""
    out = []
    index = 0
    in_class = False
    while index < len(source):
        char = source[index]
        if char == "\\" and index + 1 < len(source):
            nxt = source[index + 1]
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
            elif nxt == "h":
                out.append("0-9a-fA-F" if in_class else "[0-9a-fA-F]")
            elif nxt == "H" and not in_class:
                out.append("[^0-9a-fA-F]")
            else:
                out.append(source[index:index + 2])
            index += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
        elif char == "[":
            in_class = True
            out.append(char)
            index += 1
            if source[index:index + 1] == "^":
                out.append("^")
                index += 1
            if source[index:index + 1] == "]":
                out.append(r"\]")
                index += 1
            continue
        elif source.startswith("(?<", index) and source[index + 3:index + 4] not in ("=", "!"):
            out.append("(?P<")
            index += 3
            continue
        out.append(char)
        index += 1
    return "".join(out)


def compile_regex(source: str, flags: str = "", where: Where | None = None) -> re.Pattern:
    """Compile a Ruby-style regular expression; a bad one is an InputError naming ``where``."""
    if len(source) > MAX_REGEX_LENGTH:
        raise InputError(f"regular expression of {len(source)} characters, more than the "
                         f"{MAX_REGEX_LENGTH} allowed", where)
    bits = re.MULTILINE
    for flag in flags:
        bits |= _RUBY_FLAGS[flag]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(_translate(source), bits)
    except (re.error, OverflowError, RecursionError, ValueError) as error:
        reason = getattr(error, "msg", None) or str(error)
        raise InputError(f"invalid regular expression /{source}/: {reason}", where) from None


def split_slashed(text: str) -> tuple[str, str] | None:
    """``'/re/i'`` → ``('re', 'i')``; anything not wrapped in slashes → None."""
    match = _SLASHED.match(text)
    if not match or len(text) < 2:
        return None
    return match.group("source"), match.group("flags")


@dataclass(frozen=True)
class NamePattern:
    """A class, agent or identity pattern: ``web``, ``dev*`` (identities only) or ``/^dev\\d/``."""

    text: str
    regex: re.Pattern | None = None
    glob: bool = False

    @classmethod
    def parse(cls, text: str, where: Where | None = None, allow_glob: bool = False) -> NamePattern:
        if not text:
            raise InputError("expected a name or /regex/, got an empty string", where)
        if text.startswith("/"):
            parts = split_slashed(text)
            if parts is None:
                raise InputError(f"unterminated /regex/ in {text!r}", where)
            if not parts[0]:
                raise InputError(f"empty /regex/ in {text!r}", where)
            return cls(text, compile_regex(parts[0], parts[1], where))
        if allow_glob and any(char in text for char in "*?["):
            return cls(text, re.compile(fnmatch.translate(text)), glob=True)
        return cls(text)

    def matches(self, name: str) -> bool:
        if self.regex is None:
            return name == self.text
        if self.glob:
            return self.regex.match(name) is not None
        return self.regex.search(name) is not None

    def matches_any(self, names) -> bool:
        if self.regex is None:
            return self.text in names
        return any(self.matches(name) for name in names)
