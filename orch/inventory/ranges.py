"""Host patterns as Ansible reads them: ``host:port``, ``[v6]:port`` and ranges ``web[01:20]``.

A port of ``ansible.parsing.utils.addresses.parse_address`` and
``ansible.plugins.inventory.expand_hostname_range`` (ansible-core 2.19), kept rule for rule so
that the same inventory line yields the same host names, ports and errors as in Ansible.
"""

from __future__ import annotations

import functools
import re
import string

_NUMERIC_RANGE = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_V6 = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_V4 = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"

_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_IPV6_TEXT = rf"""^((?:{_V6}:){{7}}{_V6}|
    (?:{_V6}:){{1,6}}:|
    (?:{_V6}:)(?::{_V6}){{1,6}}|
    (?:{_V6}:){{2}}(?::{_V6}){{1,5}}|
    (?:{_V6}:){{3}}(?::{_V6}){{1,4}}|
    (?:{_V6}:){{4}}(?::{_V6}){{1,3}}|
    (?:{_V6}:){{5}}(?::{_V6}){{1,2}}|
    (?:{_V6}:){{6}}(?::{_V6})|
    :(?::{_V6}){{1,6}}|
    {_V6}?::|
    (?:0:){{6}}(?:{_V6}\.){{3}}{_V6}|
    ::(?:ffff:)?(?:{_V6}\.){{3}}{_V6}|
    (?:0:){{5}}ffff:(?:{_V6}\.){{3}}{_V6})$"""


@functools.cache
def _address_patterns() -> tuple[re.Pattern, ...]:
    """IPv4, IPv6 and host name patterns, compiled on first use (tens of ms at import)."""
    return (re.compile(rf"^(?:{_V4}\.){{3}}{_V4}$", re.I),
            re.compile(_IPV6_TEXT, re.X | re.I),
            re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE))


class RangeError(ValueError):
    """A host pattern Ansible refuses; the message is Ansible's own."""


def parse_address(address: str) -> tuple[str, int | None]:
    """Split ``host:port`` (ranges allowed) as Ansible does; raise ValueError if not an address."""
    port = None
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        match = pattern.match(address)
        if match:
            address, port_text = match.groups()
            port = int(port_text)
    for pattern in _address_patterns():
        if pattern.match(address):
            return address, port
    raise ValueError(f"Not a valid network hostname: {address}")


def expand_hostpattern(pattern: str) -> tuple[list[str], int | None]:
    """One inventory host pattern → (host names, port or None), as Ansible's plugins expand it."""
    if ":" not in pattern and "[" not in pattern:
        return [pattern], None  # the address check can only hand the pattern back unchanged
    try:
        host, port = parse_address(pattern)
    except ValueError:
        host, port = pattern, None
    if "[" in host:
        return expand_hostname_range(host), port
    return [host], port


#: The most host names one pattern may expand to (all its ranges multiplied). Ansible would
#: try ``h[1:10000000]`` and run out of memory after half a minute; orch counts first.
MAX_RANGE_HOSTS = 1_000_000


def _parse_range(line: str) -> tuple[str, str, range | list, int, str]:
    """``db[01:03]x`` → (head, range text, sequence, zero-padded width, tail), Ansible's rules."""
    parts = line.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        raise RangeError(f"host range {line!r} is malformed (brackets or '|' out of place)")
    head, nrange, tail = parts
    bounds = nrange.split(":")
    if len(bounds) not in (2, 3):
        raise RangeError("host range must be begin:end or begin:end:step")
    beg, end = bounds[0], bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not beg:
        beg = "0"
    if not end:
        raise RangeError("host range must specify end value")
    width = 0
    if beg[0] == "0" and len(beg) > 1:
        width = len(beg)
        if width != len(end):
            raise RangeError("host range must specify equal-length begin and end formats")
    try:
        i_beg = string.ascii_letters.index(beg)
        i_end = string.ascii_letters.index(end)
        if i_beg > i_end:
            raise RangeError("host range must have begin <= end")
        seq: list | range = list(string.ascii_letters[i_beg:i_end + 1:int(step_text)])
    except ValueError as error:
        if isinstance(error, RangeError):
            raise
        try:
            seq = range(int(beg), int(end) + 1, int(step_text))
        except ValueError as bad:
            raise RangeError(f"host range {nrange!r}: {bad}") from None
    return head, nrange, seq, width, tail


def _length(seq: range | list) -> int:
    """``len`` that also works for a range longer than a machine word (``h[0:99999999999999999999]``)."""
    try:
        return len(seq)
    except OverflowError:
        return max(0, (seq.stop - seq.start + seq.step - (1 if seq.step > 0 else -1)) // seq.step)


def _item(seq: range | list, width: int) -> str:
    return str(seq[0]).zfill(width) if width else str(seq[0])


def count_hostname_range(line: str) -> int:
    """How many names ``expand_hostname_range(line)`` would give, without making them.

    Every range of a pattern has the same bounds whatever the earlier ranges gave (their
    items are letters or digits, never brackets), so the count is the product of the lengths.
    """
    total = 1
    while True:
        head, _, seq, width, tail = _parse_range(line)
        total *= _length(seq)
        if not total or "[" not in tail:
            return total
        line = head + _item(seq, width) + tail


def expand_hostname_range(line: str) -> list[str]:
    """``db[01:03]-[a:b]`` → every name; errors carry Ansible's messages.

    :raises RangeError: also for a pattern of more than ``MAX_RANGE_HOSTS`` names, counted
        before any name is made.
    """
    count = count_hostname_range(line)
    if count > MAX_RANGE_HOSTS:
        raise RangeError(f"host pattern {line!r} expands to {count} hosts, more than the "
                         f"{MAX_RANGE_HOSTS:,} one pattern may give")
    return _expand(line)


def _expand(line: str) -> list[str]:
    head, _, seq, width, tail = _parse_range(line)
    if "[" in tail:
        names: list[str] = []
        for item in seq:
            item = str(item).zfill(width) if width else str(item)
            names.extend(_expand(head + item + tail))
        return names
    if isinstance(seq, range):
        middle = f"%0{width}d" if width else "%d"
    else:
        middle = "%s"  # letters
    template = head.replace("%", "%%") + middle + tail.replace("%", "%%")
    return list(map(template.__mod__, seq))
