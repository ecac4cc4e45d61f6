"""``orch play --limit PATTERN`` and ``-I``: narrow every node set of a play.

As ``ansible-playbook --limit`` does: the pattern is a list of host names, globs, ``/regex/``
or group names, separated by commas (or colons, Ansible's older separator); an item starting
with ``!`` removes the hosts it matches, one starting with ``&`` keeps only those it matches.
``-I`` (repeatable) keeps only the hosts it names, as in every other orch command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from orch.errors import InputError, Where
from orch.select.pattern import NamePattern

Narrow = Callable[[list], list]


def narrowing(limit: str | None, identities: Sequence[str] = ()) -> Narrow | None:
    """The function that narrows a node set's hosts; None when nothing narrows. Bad patterns
    are an InputError (exit 2) here, before any host is contacted."""
    if not limit and not identities:
        return None
    where = Where(path="--limit")
    include: list[NamePattern] = []
    exclude: list[NamePattern] = []
    require: list[NamePattern] = []
    if limit is not None:
        if not limit.strip():
            raise InputError("expected host names, globs, /regex/ or groups", where)
        for item in _items(limit):
            bucket = include
            if item.startswith("!"):
                bucket, item = exclude, item[1:]
            elif item.startswith("&"):
                bucket, item = require, item[1:]
            bucket.append(NamePattern.parse(item, where, allow_glob=True))
    ids = [NamePattern.parse(text, Where(path="-I"), allow_glob=True) for text in identities]

    def matches(pattern: NamePattern, host) -> bool:
        return pattern.matches(host.name) or pattern.matches_any(getattr(host, "groups", ()))

    def narrow(hosts: list) -> list:
        kept = []
        for host in hosts:
            if include and not any(matches(p, host) for p in include):
                continue
            if any(not matches(p, host) for p in require):
                continue
            if any(matches(p, host) for p in exclude):
                continue
            if ids and not any(p.matches(host.name) for p in ids):
                continue
            kept.append(host)
        return kept

    return narrow


def _items(text: str) -> list[str]:
    """Split on commas, and on colons outside a /regex/ (``web:!dev3``)."""
    if text.startswith("/") or "/" in text:
        parts = text.split(",")
    else:
        parts = re.split(r"[,:]", text)
    return [part.strip() for part in parts if part.strip()]
