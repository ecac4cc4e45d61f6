"""The shared fact cache in Redis, for several controllers: ``redis://host:port/db``.

Two hashes: ``orch:facts`` maps host → facts (JSON) and ``orch:facts:gathered`` maps host →
gather time, written together in one MULTI/EXEC so readers never see one without the other.
Single-key reads decode every host's document; the SQLite cache is the fast one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from orch.errors import InputError, OrchError, Where
from orch.facts.records import MISSING, group_values, lookup

FACTS_KEY = "orch:facts"
GATHERED_KEY = "orch:facts:gathered"


class RedisFactCache:
    """FactCache on a Redis server; connection problems are one-line errors (exit 1)."""

    def __init__(self, url: str):
        try:
            import redis
        except ImportError:
            raise InputError("a redis:// fact cache needs the 'redis' Python package",
                             Where(path="fact_cache")) from None
        self.url = url
        self._errors = (redis.RedisError, OSError)
        try:
            self._client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
        except ValueError as error:
            raise InputError(f"bad Redis URL {url!r}: {error}", Where(path="fact_cache")) from None

    def _call(self, function, *args):
        try:
            return function(*args)
        except self._errors as error:
            raise OrchError(f"fact cache {self.url}: {error}") from None

    def close(self) -> None:
        self._client.close()

    def put_many(self, facts: Mapping[str, Mapping], gathered_at: float | None = None) -> int:
        if not facts:
            return 0
        gathered_at = time.time() if gathered_at is None else float(gathered_at)
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(FACTS_KEY, mapping={name: json.dumps(value, separators=(",", ":"), default=str)
                                      for name, value in facts.items()})
        pipe.hset(GATHERED_KEY, mapping={name: repr(gathered_at) for name in facts})
        self._call(pipe.execute)
        return len(facts)

    def get_many(self, names: Iterable[str]) -> dict[str, tuple[dict, float]]:
        names = list(names)
        if not names:
            return {}
        blobs = self._call(self._client.hmget, FACTS_KEY, names)
        times = self._call(self._client.hmget, GATHERED_KEY, names)
        return {name: (json.loads(blob), float(when or 0))
                for name, blob, when in zip(names, blobs, times, strict=True) if blob is not None}

    def all(self) -> dict[str, tuple[dict, float]]:
        blobs = self._call(self._client.hgetall, FACTS_KEY)
        times = self._call(self._client.hgetall, GATHERED_KEY)
        return {name.decode(): (json.loads(blob), float(times.get(name) or 0))
                for name, blob in blobs.items()}

    def gathered(self) -> dict[str, float]:
        return {name.decode(): float(when)
                for name, when in self._call(self._client.hgetall, GATHERED_KEY).items()}

    def values(self, key: str) -> dict[str, Any]:
        found = {}
        for name, blob in self._call(self._client.hgetall, FACTS_KEY).items():
            value = lookup(json.loads(blob), key)
            if value is not MISSING:
                found[name.decode()] = value
        return found


    def value_groups(self, key: str) -> list[tuple[Any, list[str]]]:
        return group_values(self.values(key))
