"""The default fact cache: one SQLite file, laid out so discovery reads single keys fast.

Two tables: ``hosts`` keeps each host's facts as one JSON document with the time they were
gathered (exact round trip), and ``fact_values`` keeps the same facts flattened to
(dotted key, host, value) rows clustered by key. Selecting ``cluster=alfa`` over 100,000
hosts then reads one key's 100,000 rows as native SQLite values instead of decoding 100,000
JSON documents. Scalars are stored natively (text, integer, real); lists, booleans and
nulls as JSON text with ``encoded = 1``.

A third table, ``columns``, memoizes one key's distinct values with their hosts as one JSON
document, tagged with the cache's generation (bumped by every write): the first discovery
after a gather pays for grouping the rows, later ones read one document.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any

from orch.errors import InputError, Where
from orch.facts.records import flatten, group_values, unflatten_into

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hosts (
    name TEXT PRIMARY KEY,
    gathered_at REAL NOT NULL,
    facts TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fact_values (
    key TEXT NOT NULL,
    host TEXT NOT NULL,
    value,
    encoded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, host)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS columns (
    key TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value
) WITHOUT ROWID;
"""
_CHUNK = 500
_SEPARATOR = "\x1f"  # between host names in a memoized column
_INT64 = 2 ** 63


def _encode(value: Any) -> tuple[Any, int]:
    """A leaf as (stored value, encoded flag): native when SQLite keeps it exactly."""
    if isinstance(value, str):
        return value, 0
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64:
        return value, 0
    if isinstance(value, float) and math.isfinite(value):
        return value, 0
    return json.dumps(value, separators=(",", ":"), default=str), 1


def _decode(value: Any, encoded: int) -> Any:
    return json.loads(value) if encoded else value


class SqliteFactCache:
    """FactCache in one SQLite file; the folder is created on the first write."""

    def __init__(self, url: str):
        self.url = url
        path = url[len("sqlite://"):]
        if path.startswith("//"):
            path = path[1:]
        if not path or path == "/":
            raise InputError(f"expected sqlite:///path/to/facts.db, got {url!r}", Where(path="fact_cache"))
        self.path = os.path.expanduser(path)
        self._connection: sqlite3.Connection | None = None
        self._schema_ready = False

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        """The connection; ``create`` makes the folder, file and tables (writers only)."""
        connection = self._connection
        if connection is None:
            if not create and not os.path.exists(self.path):
                return None
            try:
                if create:
                    os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=30)
                connection.execute("PRAGMA synchronous=NORMAL")  # WAL: durable enough, no fsync per commit
                if not create and not connection.execute(
                        "SELECT 1 FROM sqlite_master WHERE name = 'fact_values'").fetchone():
                    connection.close()
                    return None
            except (sqlite3.Error, OSError) as error:
                raise InputError(f"cannot open the fact cache: {error}", Where(self.path)) from None
            self._connection = connection
        if create and not self._schema_ready:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA)
            except sqlite3.Error as error:
                raise InputError(f"cannot open the fact cache: {error}", Where(self.path)) from None
            self._schema_ready = True
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
            self._schema_ready = False

    def _chunks(self, names: list[str]):
        for start in range(0, len(names), _CHUNK):
            yield names[start:start + _CHUNK]

    def put_many(self, facts: Mapping[str, Mapping], gathered_at: float | None = None) -> int:
        gathered_at = time.time() if gathered_at is None else float(gathered_at)
        connection = self._connect(create=True)
        names = list(facts)
        try:
            with connection:
                stale = []
                for chunk in self._chunks(names):
                    marks = ",".join("?" * len(chunk))
                    for name, blob in connection.execute(
                            f"SELECT name, facts FROM hosts WHERE name IN ({marks})", chunk):
                        stale.extend((key, name) for key, _ in flatten(json.loads(blob)))
                connection.executemany("DELETE FROM fact_values WHERE key = ? AND host = ?", stale)
                connection.execute("DELETE FROM columns")
                connection.execute(
                    "INSERT INTO meta (name, value) VALUES ('generation', 1) ON CONFLICT (name) "
                    "DO UPDATE SET value = value + 1")
                connection.executemany(
                    "INSERT OR REPLACE INTO hosts (name, gathered_at, facts) VALUES (?, ?, ?)",
                    ((name, gathered_at, json.dumps(facts[name], separators=(",", ":"), default=str))
                     for name in names))
                connection.executemany(
                    "INSERT OR REPLACE INTO fact_values (key, host, value, encoded) VALUES (?, ?, ?, ?)",
                    ((key, name, *_encode(value))
                     for name in names for key, value in flatten(facts[name])))
        except sqlite3.Error as error:
            raise InputError(f"cannot write the fact cache: {error}", Where(self.path)) from None
        return len(names)

    def get_many(self, names: Iterable[str]) -> dict[str, tuple[dict, float]]:
        connection = self._connect(create=False)
        if connection is None:
            return {}
        found = {}
        for chunk in self._chunks(list(names)):
            marks = ",".join("?" * len(chunk))
            for name, gathered_at, blob in connection.execute(
                    f"SELECT name, gathered_at, facts FROM hosts WHERE name IN ({marks})", chunk):
                found[name] = (json.loads(blob), gathered_at)
        return found

    def all(self) -> dict[str, tuple[dict, float]]:
        connection = self._connect(create=False)
        if connection is None:
            return {}
        return {name: (json.loads(blob), gathered_at) for name, gathered_at, blob in
                connection.execute("SELECT name, gathered_at, facts FROM hosts")}

    def gathered(self) -> dict[str, float]:
        connection = self._connect(create=False)
        if connection is None:
            return {}
        return dict(connection.execute("SELECT name, gathered_at FROM hosts"))

    def values(self, key: str) -> dict[str, Any]:
        """One key's values: a leaf row each, or a subtree rebuilt from ``key.*`` rows."""
        connection = self._connect(create=False)
        if connection is None:
            return {}
        found = dict(connection.execute(
            "SELECT host, value FROM fact_values WHERE key = ? AND encoded = 0", (key,)))
        for host, value in connection.execute(
                "SELECT host, value FROM fact_values WHERE key = ? AND encoded = 1", (key,)):
            decoded = json.loads(value)
            if decoded is not None:
                found[host] = decoded
        subtrees: dict[str, dict] = {}
        prefix = key + "."
        for host, path, value, encoded in connection.execute(
                "SELECT host, key, value, encoded FROM fact_values WHERE key > ? AND key < ?",
                (prefix, key + "/")):
            if host not in found:
                unflatten_into(subtrees.setdefault(host, {}), path[len(prefix):], _decode(value, encoded))
        found.update(subtrees)
        return found

    def value_groups(self, key: str) -> list[tuple[Any, list[str]]]:
        """One key's distinct values and their hosts, from the memo when it is current."""
        connection = self._connect(create=False)
        if connection is None:
            return []
        try:
            row = connection.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()
            generation = row[0] if row else 0
            memo = connection.execute("SELECT generation, data FROM columns WHERE key = ?",
                                      (key,)).fetchone()
        except sqlite3.OperationalError:  # a cache written before the memo existed
            return group_values(self.values(key))
        if memo is not None and memo[0] == generation:
            return [(value, names.split(_SEPARATOR) if names else [])
                    for value, names in json.loads(memo[1])]
        groups = self._group_rows(connection, key)
        data = json.dumps([(value, _SEPARATOR.join(names)) for value, names in groups],
                          separators=(",", ":"), default=str)
        try:
            with connection:
                connection.execute(
                    "INSERT OR REPLACE INTO columns (key, generation, data) VALUES (?, ?, ?)",
                    (key, generation, data))
        except sqlite3.Error:
            pass  # read-only or busy: the memo is only an optimization
        return groups

    def _group_rows(self, connection: sqlite3.Connection, key: str) -> list[tuple[Any, list[str]]]:
        """Group one key's rows by value in SQL; subtrees (``key.*`` rows) go through values()."""
        if connection.execute("SELECT 1 FROM fact_values WHERE key > ? AND key < ? LIMIT 1",
                              (key + ".", key + "/")).fetchone():
            return group_values(self.values(key))
        groups = []
        for encoded, value, names in connection.execute(
                "SELECT encoded, value, group_concat(host, char(31)) FROM fact_values "
                "WHERE key = ? GROUP BY encoded, typeof(value), value", (key,)):
            value = _decode(value, encoded)
            if value is not None:
                groups.append((value, names.split(_SEPARATOR)))
        return groups
