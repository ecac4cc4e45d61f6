"""The fact cache: what was gathered from each host, and when, behind one small Protocol.

``sqlite:///path`` (the default, one file per controller) and ``redis://host:port/db`` (shared
by several controllers) store the same thing: per host, its facts and the time they were
gathered. Discovery reads it and never needs the network.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from orch.errors import InputError, OrchError, Where


class FactCache(Protocol):
    """The methods selection, ``orch facts`` and fact gathering call; nothing more."""

    url: str

    def put_many(self, facts: Mapping[str, Mapping], gathered_at: float | None = None) -> int:
        """Replace the facts of each host given; returns how many hosts were written."""

    def get_many(self, names: Iterable[str]) -> dict[str, tuple[dict, float]]:
        """``{host: (facts, gathered_at)}`` for the hosts that have cached facts."""

    def all(self) -> dict[str, tuple[dict, float]]:
        """Every cached host."""

    def gathered(self) -> dict[str, float]:
        """``{host: gathered_at}`` for every cached host, without reading the facts."""

    def values(self, key: str) -> dict[str, Any]:
        """``{host: value}`` of one dotted fact key, for every cached host that has it."""

    def value_groups(self, key: str) -> list[tuple[Any, list[str]]]:
        """``[(value, [hosts])]`` of one key, one entry per distinct value."""

    def close(self) -> None: ...


class StaleFacts(OrchError):
    """``--max-age``: some selected hosts' cached facts are too old (or were never gathered).

    Exit 1, like "nothing matched": the input was fine, the cache is not fresh enough to trust.
    ``hosts`` lists the stale host names so a play can report or gather them.
    """

    def __init__(self, message: str, hosts: list[str]):
        super().__init__(message)
        self.hosts = hosts


def open_cache(url: str) -> FactCache:
    """Open the fact cache a URL names (``sqlite:///path``, ``redis://host:port/db``)."""
    if url.startswith("sqlite://"):
        from orch.facts.sqlite import SqliteFactCache

        return SqliteFactCache(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from orch.facts.redis import RedisFactCache

        return RedisFactCache(url)
    raise InputError(f"unknown fact cache URL {url!r} (expected sqlite:///path or redis://host:port/db)",
                     Where(path="fact_cache"))


#: The fact ``store_gathered`` adds to each host's gathered facts: discovery lays the
#: inventory's ``facts`` over gathered facts but under imported ones (DESIGN §3's precedence:
#: host < inventory < ``orch facts --import``), and the cache keeps no other provenance.
SOURCE_KEY = "orch_fact_source"
GATHERED = "gathered"
#: The key a gathered record keeps the classes the host reported under (``rpcutil.inventory``'s
#: ``classes``: /etc/orch/classes, Puppet's classes.txt, host.json): discovery's ``-C``/``-S``
#: add them to the inventory's groups and ``classes``. Only gathered records are read for it.
CLASSES_KEY = "orch_classes"


def store_gathered(config, facts: Mapping[str, Mapping], gathered_at: float | None = None,
                   classes: Mapping[str, Iterable[str]] | None = None) -> int:
    """Record facts just gathered from live hosts (``orch facts --gather`` calls this).

    ``facts`` is ``{host: {fact: value}}``; each host's previous facts are replaced. Each host's
    record gets ``orch_fact_source: gathered`` (see SOURCE_KEY) and, when ``classes`` names the
    host, its reported classes as a sorted list under CLASSES_KEY.
    """
    classes = classes or {}
    marked = {}
    for host, values in facts.items():
        record = {**values, SOURCE_KEY: GATHERED}
        record.pop(CLASSES_KEY, None)  # a host cannot report classes through its facts
        if host in classes:
            record[CLASSES_KEY] = sorted({str(name) for name in classes[host] if name})
        marked[host] = record
    cache = open_cache(config.fact_cache)
    try:
        return cache.put_many(marked, time.time() if gathered_at is None else gathered_at)
    finally:
        cache.close()


def check_import(data: Any, where: Where) -> dict[str, dict]:
    """Validate ``{host: {facts}}`` read from a user's file; InputError names the bad host."""
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object {{host: {{fact: value}}}}, got {type(data).__name__}",
                         where)
    for host, facts in data.items():
        if not host or not isinstance(facts, dict):
            shown = type(facts).__name__ if host else "an empty host name"
            raise InputError(f"facts of host {host!r} must be an object, got {shown}",
                             Where(where.file, where.line, host))
    return data
