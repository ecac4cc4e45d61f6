"""Discovery: which inventory hosts match a Filter, read from the inventory and the fact cache.

Never touches the network. Facts of a host, lowest precedence first: gathered facts (what the
host said about itself, cached by ``orch facts --gather``), the inventory's ``facts`` var, then
facts loaded with ``orch facts --import``; nested values merge key by key. Each test runs once over the hosts still in
play and reads only the fact keys it names, so 100,000 hosts cost a few passes over a few
columns, not 100,000 JSON documents.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from orch.errors import InputError, Where
from orch.facts.cache import CLASSES_KEY, GATHERED, SOURCE_KEY, FactCache, StaleFacts, open_cache
from orch.facts.records import MISSING, deep_merge, group_values, lookup
from orch.select.facts_match import FactTest
from orch.select.filter import ALWAYS_OFFERED, Filter
from orch.select.pattern import NamePattern


class InventoryContext:
    """Match context over inventory hosts plus a fact cache.

    Facts are read a key at a time as groups of hosts per distinct value, so a test runs once
    per distinct value, not once per host. Classes and agents come from each host's
    ``classes``/``agents`` (sets the inventory shares between hosts of the same groups), and a
    pattern is tested once per distinct set; classes also include those a gathered host
    reported (CLASSES_KEY of its cached record).
    """

    def __init__(self, hosts: dict, cache: FactCache | None, inventory=None):
        self.hosts = hosts
        self.cache = cache
        self.inventory = inventory
        self._groups: dict[str, list[tuple[Any, list[str]]]] = {}
        self._static: dict[str, dict] | None = None
        self._gathered: set[str] | None = None
        self._classes: dict[str, frozenset] | None = None

    def gathered_classes(self) -> dict[str, frozenset]:
        """``{host: classes it reported}`` for gathered hosts: one key read, memoized; hosts
        sharing the same reported classes share one frozenset."""
        if self._classes is None:
            self._classes = {}
            if self.cache is not None:
                gathered = self.gathered_hosts()
                for value, names in self.cache.value_groups(CLASSES_KEY):
                    if not isinstance(value, list) or not value:
                        continue
                    shared = frozenset(str(item) for item in value)
                    self._classes.update((name, shared) for name in names if name in gathered)
        return self._classes

    def host_classes(self, name: str) -> frozenset:
        """The inventory's classes of ``name`` plus those it reported when gathered."""
        static = self.hosts[name].classes
        reported = self.gathered_classes().get(name)
        return static | reported if reported else static

    def _with_names(self, attribute: str, pattern: NamePattern, candidates: set) -> set:
        if attribute == "classes" and self.gathered_classes():
            return self._with_classes(pattern, candidates)
        hosts = self.hosts
        extra = ALWAYS_OFFERED if attribute == "agents" else frozenset()
        if pattern.regex is None and pattern.text in extra:
            return set(candidates)
        if pattern.regex is None:
            text = pattern.text
            if attribute == "agents":  # no agents listed: every module (orch.select.offers)
                return {name for name in candidates
                        if not hosts[name].agents or text in hosts[name].agents}
            return {name for name in candidates if text in getattr(hosts[name], attribute)}
        memo: dict[int, tuple] = {}
        found = set()
        for name in candidates:
            names = getattr(hosts[name], attribute)
            entry = memo.get(id(names))
            if entry is None:
                entry = memo[id(names)] = (names, (attribute == "agents" and not names)
                                           or pattern.matches_any(names | extra))
            if entry[1]:
                found.add(name)
        return found

    def _with_classes(self, pattern: NamePattern, candidates: set) -> set:
        """``-C`` over inventory classes plus reported ones, tested once per distinct pair."""
        reported = self.gathered_classes()
        memo: dict[tuple[int, int], bool] = {}
        found = set()
        for name in candidates:
            static = self.hosts[name].classes
            extra = reported.get(name, frozenset())
            key = (id(static), id(extra))
            verdict = memo.get(key)
            if verdict is None:
                names = static | extra
                verdict = memo[key] = (pattern.text in names if pattern.regex is None
                                       else pattern.matches_any(names))
            if verdict:
                found.add(name)
        return found

    def with_class(self, pattern: NamePattern, candidates: set) -> set:
        return self._with_names("classes", pattern, candidates)

    def with_agent(self, pattern: NamePattern, candidates: set) -> set:
        return self._with_names("agents", pattern, candidates)

    def static_facts(self) -> dict[str, dict]:
        """``{host: facts}`` from the inventory, for hosts that have any (usually few)."""
        if self._static is None:
            self._static = {name: facts for name, host in self.hosts.items() if (facts := host.facts)}
        return self._static

    def gathered_hosts(self) -> set[str]:
        """Hosts whose cached facts were gathered (not imported): one key read, memoized."""
        if self._gathered is None:
            groups = self.cache.value_groups(SOURCE_KEY) if self.cache is not None else []
            self._gathered = {name for value, names in groups if value == GATHERED
                              for name in names}
        return self._gathered

    def value_groups(self, key: str) -> list[tuple[Any, list[str]]]:
        """``[(value, [hosts])]`` of one fact key: inventory facts over gathered ones, imported
        ones over both (see the module docstring).

        May name hosts that are in the cache but not in the inventory; callers intersect.
        """
        groups = self._groups.get(key)
        if groups is not None:
            return groups
        groups = self.cache.value_groups(key) if self.cache is not None else []
        overrides = {}
        static = self.static_facts()
        if static:
            cached = {name: value for value, names in groups for name in names}
            gathered = self.gathered_hosts() if cached else set()
            for name, facts in static.items():
                value = lookup(facts, key)
                if value is MISSING or value is None:
                    continue
                cached_value = cached.get(name, MISSING)
                both_dicts = isinstance(cached_value, dict) and isinstance(value, dict)
                if cached_value is MISSING:
                    overrides[name] = value
                elif name in gathered:
                    overrides[name] = deep_merge(cached_value, value) if both_dicts else value
                elif both_dicts:
                    overrides[name] = deep_merge(value, cached_value)
        if overrides:
            groups = [(value, [name for name in names if name not in overrides])
                      for value, names in groups]
            groups.extend(group_values(overrides))
        self._groups[key] = groups
        return groups

    def with_fact(self, test: FactTest, candidates: set) -> set:
        found: set = set()
        for value, names in self.value_groups(test.key):
            if test.matches(value):
                found.update(names)
        return candidates & found


class Selection:
    """The outcome of selecting hosts: the inventory, the match context, the chosen names."""

    def __init__(self, inventory, context: InventoryContext, names: list[str], cache_url: str):
        self.inventory = inventory
        self.context = context
        self.names = names
        self.cache_url = cache_url

    def value_groups(self, key: str) -> list[tuple[Any, list[str]]]:
        """``[(value, [hosts])]`` of one fact over the selected hosts (cached over inventory)."""
        cache = open_cache(self.cache_url)
        self.context.cache = cache
        try:
            groups = self.context.value_groups(key)
        finally:
            self.context.cache = None
            cache.close()
        selected = set(self.names)
        found = []
        for value, names in groups:
            names = [name for name in names if name in selected]
            if names:
                found.append((value, names))
        return found

    def values(self, key: str) -> dict[str, Any]:
        """``{host: value}`` of one fact over the selected hosts."""
        return {name: value for value, names in self.value_groups(key) for name in names}

    def hosts(self) -> list:
        """The selected hosts as SelectedHost (inventory host + cached facts, loaded on use)."""
        loader = _CachedFacts(self.cache_url, self.names)
        return [SelectedHost(self.inventory.hosts[name], loader) for name in self.names]


def _load_inventory(config, inventory_paths: Sequence[str] | None):
    paths = list(inventory_paths) if inventory_paths else list(getattr(config, "inventory", ()) or ())
    if not paths:
        raise InputError("no inventory: pass -i PATH or set 'inventory' in orch.cfg",
                         Where(path="inventory"))
    from orch.inventory import load_inventory

    return load_inventory(paths)


def _check_fresh(cache: FactCache, names: list[str], max_age: float) -> None:
    gathered = cache.gathered()
    limit = time.time() - max_age
    stale = [name for name in names if gathered.get(name, float("-inf")) < limit]
    if not stale:
        return
    shown = ", ".join(stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
    raise StaleFacts(
        f"cached facts of {len(stale)} of {len(names)} host(s) are older than "
        f"{_age_text(max_age)} or were never gathered: {shown} "
        "(refresh them with 'orch facts --gather', or drop --max-age)", stale)


def _age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def select(config, filter: Filter, max_age: float | None = None,
           inventory_paths: Sequence[str] | None = None) -> Selection:
    """Apply ``filter`` to the inventory and fact cache; see ``discover``."""
    selector = filter.compile()
    inventory = _load_inventory(config, inventory_paths)
    cache = open_cache(config.fact_cache)
    try:
        context = InventoryContext(inventory.hosts, cache, inventory)
        order = list(inventory.hosts)
        candidates = selector.prefilter(context, order)
        if max_age is not None:
            _check_fresh(cache, [name for name in order if name in candidates], max_age)
        names = selector.select(context, order, candidates)
    finally:
        cache.close()
    context.cache = None
    return Selection(inventory, context, names, config.fact_cache)


def discover(config, filter: Filter, max_age: float | None = None,
             inventory_paths: Sequence[str] | None = None) -> list:
    """The inventory hosts matching ``filter``, in inventory order, facts merged from the cache.

    ``max_age`` (seconds): the hosts that pass ``-I``, ``-A`` and ``-C`` must have cached facts
    gathered within that time, else StaleFacts (exit 1) names them; fact tests on stale data
    could silently leave hosts out. Raises InputError for a malformed filter or inventory. An
    empty list is not an error here: the caller decides (``NothingMatched``, ``when_empty``).

    >>> [h.name for h in discover(config, Filter(facts=("cluster=alfa",)))]  # doctest: +SKIP
    ['dev1', 'dev3']
    """
    return select(config, filter, max_age, inventory_paths).hosts()


class _CachedFacts:
    """Loads the cached facts of every selected host at once, the first time one is asked for."""

    def __init__(self, url: str, names: list[str]):
        self.url = url
        self.names = names
        self._facts: dict[str, tuple[dict, float]] | None = None

    def get(self, name: str) -> tuple[dict, float] | None:
        if self._facts is None:
            cache = open_cache(self.url)
            try:
                self._facts = cache.get_many(self.names)
            finally:
                cache.close()
        return self._facts.get(name)


class SelectedHost:
    """An inventory Host whose ``facts`` include the cached ones (inventory facts win over
    gathered ones, imported ones win over the inventory's).

    Everything else (name, vars, groups, address, port, user, key, classes, agents) is the
    inventory host's. ``gathered_at`` is when the cached facts were gathered, or None.
    """

    __slots__ = ("host", "_loader", "_facts")

    def __init__(self, host, loader: _CachedFacts):
        self.host = host
        self._loader = loader
        self._facts: dict | None = None

    def __getattr__(self, name: str):
        return getattr(self.host, name)

    def __repr__(self) -> str:
        return f"SelectedHost({self.host.name!r})"

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def facts(self) -> dict:
        if self._facts is None:
            entry = self._loader.get(self.host.name)
            static = self.host.facts
            if not entry:
                self._facts = dict(static)
            elif entry[0].get(SOURCE_KEY) == GATHERED:
                self._facts = deep_merge(entry[0], static)
            else:
                self._facts = deep_merge(static, entry[0])
        return self._facts

    @property
    def classes(self) -> frozenset:
        """The inventory's classes, plus those the host reported when its facts were gathered."""
        entry = self._loader.get(self.host.name)
        reported = entry[0].get(CLASSES_KEY) if entry and entry[0].get(SOURCE_KEY) == GATHERED else None
        if isinstance(reported, list) and reported:
            return self.host.classes | frozenset(str(item) for item in reported)
        return self.host.classes

    @property
    def gathered_at(self) -> float | None:
        entry = self._loader.get(self.host.name)
        return entry[1] if entry else None
