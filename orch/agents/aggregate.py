"""Aggregate functions a module declares per action, computed by the controller over replies.

MCollective's DDL ``summarize { aggregate summary(:revision) }`` becomes, in a module's
declaration, ``"aggregate": [{"function": "summary", "args": ["revision"]}]``. The controller
runs each one over the data of the OK replies and renders it as a title and label/value lines::

    Summary of Revision:
       Revision 20: 4 nodes

Each function is pure: values in, result out. ``summarize`` applies a whole declaration.
Optional keys of an aggregate: ``format`` (a %-format for numbers, e.g. ``"%.1f"``) and, for
``boolean_summary``, a second arg ``{"true": "Enabled", "false": "Disabled"}`` naming the two
states.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

AGGREGATES = ("summary", "sum", "average", "min", "max", "boolean_summary")


@dataclass(frozen=True)
class Aggregate:
    """One computed aggregate: ``title`` and ``lines`` for display, ``value`` for asserts."""

    function: str  # one of AGGREGATES
    field: str  # the output it reads
    title: str  # "Summary of Revision"
    value: Any  # summary: {text: count}; sum/average/min/max: number or None; boolean: {label: count}
    lines: list = field(default_factory=list)  # [["Revision 20", "4 nodes"], ...]
    count: int = 0  # replies that had a usable value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_text(value: Any) -> str:
    """How a reply value reads in a summary: strings as-is, JSON for the rest."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def summary(values: Iterable[Any]) -> dict[str, int]:
    """How many replies had each distinct value, most common first (ties by value text)."""
    counts = Counter(value_text(value) for value in values)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def total(values: Iterable[Any]) -> int | float | None:
    """Sum of the numeric values; None when there is none."""
    numbers = [value for value in values if _is_number(value)]
    return sum(numbers) if numbers else None


def average(values: Iterable[Any]) -> float | None:
    """Mean of the numeric values; None when there is none."""
    numbers = [value for value in values if _is_number(value)]
    return sum(numbers) / len(numbers) if numbers else None


def minimum(values: Iterable[Any]) -> int | float | None:
    numbers = [value for value in values if _is_number(value)]
    return min(numbers) if numbers else None


def maximum(values: Iterable[Any]) -> int | float | None:
    numbers = [value for value in values if _is_number(value)]
    return max(numbers) if numbers else None


def boolean_summary(values: Iterable[Any], labels: Mapping[str, str] | None = None) -> dict[str, int]:
    """Counts of true and false replies (other values are ignored), true first."""
    labels = labels or {}
    true_label, false_label = labels.get("true", "true"), labels.get("false", "false")
    counts = {true_label: 0, false_label: 0}
    for value in values:
        if value is True:
            counts[true_label] += 1
        elif value is False:
            counts[false_label] += 1
    return counts


_NUMERIC = {"sum": ("Sum", total), "average": ("Average", average),
            "min": ("Minimum", minimum), "max": ("Maximum", maximum)}


def _nodes(count: int) -> str:
    return f"{count} node" if count == 1 else f"{count} nodes"


def _number_text(value: int | float | None, fmt: str | None) -> str:
    if value is None:
        return "no numeric replies"
    if fmt:
        return fmt % value
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def compute(spec: Mapping, outputs: Mapping, replies: Iterable[Mapping]) -> Aggregate:
    """Run one declared aggregate over the data dicts of the OK replies.

    ``spec`` is ``{"function": "summary", "args": ["revision"]}``; ``outputs`` the action's
    declared outputs, for the display name. Replies without the field are left out.
    """
    function = spec["function"]
    args = list(spec.get("args") or [])
    name = args[0]
    display = (outputs.get(name) or {}).get("display_as") or name
    title = f"Summary of {display}"
    values = [reply[name] for reply in replies if name in reply]
    fmt = spec.get("format")
    if function == "summary":
        counts = summary(values)
        lines = [[f"{display} {text}", _nodes(count)] for text, count in counts.items()]
        return Aggregate(function, name, title, counts, lines, len(values))
    if function == "boolean_summary":
        labels = args[1] if len(args) > 1 and isinstance(args[1], Mapping) else None
        counts = boolean_summary(values, labels)
        lines = [[f"{display} {label}", _nodes(count)] for label, count in counts.items()]
        return Aggregate(function, name, title, counts, lines, sum(counts.values()))
    if function in _NUMERIC:
        label, calculate = _NUMERIC[function]
        value = calculate(values)
        used = sum(1 for item in values if _is_number(item))
        return Aggregate(function, name, title, value, [[label, _number_text(value, fmt)]], used)
    raise ValueError(f"unknown aggregate function {function!r} (known: {', '.join(AGGREGATES)})")


def summarize(declaration: Mapping, action: str, replies: Iterable[Mapping]) -> list[Aggregate]:
    """Every aggregate ``action`` declares, computed over the OK replies' data dicts."""
    spec = (declaration.get("actions") or {}).get(action) or {}
    outputs = spec.get("outputs") or {}
    data = [reply for reply in replies if isinstance(reply, Mapping)]
    return [compute(item, outputs, data) for item in spec.get("aggregate") or []]
