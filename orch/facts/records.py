"""Fact records as plain data: dotted-key lookup, merging, flattening.

Shared by the fact cache (which stores flattened rows so discovery can read one key without
decoding every host's facts) and by selection (which looks keys up in nested facts). Pure
functions over dicts, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class _Missing:
    """The value of a fact a host does not have; no operator matches it (``!=`` included)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def lookup(facts: Mapping, key: str) -> Any:
    """The value of ``key`` in ``facts``, or MISSING; dotted keys reach into nested mappings.

    A literal top-level key wins (``{"os.family": "x"}``), then the path is walked one dotted
    part at a time, trying the longest literal prefix first, so facts flattened by some other
    tool (``os.release`` holding ``{"major": 12}``) are found as well. JSON null counts as
    missing, as a fact that is not there.

    >>> lookup({"os": {"release": {"major": 12}}}, "os.release.major")
    12
    """
    value = facts.get(key, MISSING) if isinstance(facts, Mapping) else MISSING
    if value is not MISSING:
        return MISSING if value is None else value
    if "." not in key or not isinstance(facts, Mapping):
        return MISSING
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        inner = facts.get(head, MISSING)
        if isinstance(inner, Mapping):
            found = lookup(inner, ".".join(parts[cut:]))
            if found is not MISSING:
                return found
    return MISSING


def deep_merge(under: Mapping, over: Mapping) -> dict:
    """``over`` merged onto ``under``: nested mappings merge, any other value in ``over`` wins.

    Used to lay cached (gathered) facts over the static facts of the inventory, so a gathered
    ``os.release`` does not erase an inventory-only ``os.family``.
    """
    merged = dict(under)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


def flatten(facts: Mapping, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, leaf value) pairs; lists, scalars and empty mappings are leaves.

    >>> list(flatten({"os": {"release": {"major": 12}}, "tags": ["a"]}))
    [('os.release.major', 12), ('tags', ['a'])]
    """
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, name + ".")
        else:
            yield name, value


def unflatten_into(target: dict, path: str, value: Any) -> None:
    """Set ``path`` (dotted) inside ``target``, creating nested dicts on the way."""
    parts = path.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def value_text(value: Any) -> str:
    """How a fact value prints and compares as text: as MCollective (Ruby's ``to_s``) shows it.

    Booleans are ``true``/``false``, numbers as written, lists and mappings as compact JSON.
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if value is None or value is MISSING:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def group_values(values: Mapping[str, Any]) -> list[tuple[Any, list[str]]]:
    """``{host: value}`` → ``[(value, [hosts])]``, one entry per distinct value (typed: 12 ≠ "12").

    Selection tests each distinct value once instead of each host, and ``orch facts`` counts
    the groups; a fleet has far fewer distinct values than hosts.
    """
    groups: dict[tuple, tuple[Any, list[str]]] = {}
    for name, value in values.items():
        if isinstance(value, str | int | float):
            key = (value.__class__, value)
        else:
            key = (value.__class__, json.dumps(value, sort_keys=True, default=str))
        entry = groups.get(key)
        if entry is None:
            groups[key] = (value, [name])
        else:
            entry[1].append(name)
    return list(groups.values())


@dataclass(frozen=True)
class HostRecord:
    """What selection needs to know about a host: its name, classes, agents and facts.

    Inventory hosts have the same attributes; this plain record lets selection be tested (and
    used) without an inventory.
    """

    name: str
    classes: frozenset = field(default_factory=frozenset)
    agents: frozenset = field(default_factory=frozenset)
    facts: Mapping = field(default_factory=dict)

    @classmethod
    def make(cls, name: str, classes=(), agents=(), facts: Mapping | None = None) -> HostRecord:
        return cls(name, frozenset(classes or ()), frozenset(agents or ()), dict(facts or {}))
