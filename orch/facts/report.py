"""``orch facts KEY``: a fact's value distribution over hosts, as ``mco facts`` prints it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orch.facts.records import value_text
from orch.select.facts_match import as_number


def distribution(values: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any, list[str]]]:
    """``[(text, value, [hosts])]`` per distinct value, numbers in numeric order, then text.

    Hosts are listed in ``order`` (inventory order); hosts without the fact are left out.
    """
    groups: dict[str, tuple[Any, list[str]]] = {}
    for name in order:
        if name in values:
            value = values[name]
            text = value_text(value)
            groups.setdefault(text, (value, []))[1].append(name)

    def key(text: str):
        number = as_number(text)
        return (0, number, text) if number is not None else (1, 0, text)

    return [(text, groups[text][0], groups[text][1]) for text in sorted(groups, key=key)]


def render_text(fact: str, rows: list, selected: int, verbose: bool = False) -> str:
    """The ``mco facts`` report: ``Report for fact: X``, then aligned ``value  found N times``."""
    width = max([40] + [len(text) + 2 for text, _, _ in rows])
    lines = [f"Report for fact: {fact}", ""]
    for text, _, hosts in rows:
        lines.append(f"        {text:<{width}}found {len(hosts)} times")
        if verbose:
            lines.append("")
            lines.extend(f"            {name}" for name in sorted(hosts))
            lines.append("")
    found = sum(len(hosts) for _, _, hosts in rows)
    if not verbose:
        lines.append("")
    lines.append(f"{found} of {selected} selected host(s) have fact '{fact}'")
    return "\n".join(lines) + "\n"


def render_json(fact: str, rows: list, selected: int) -> dict:
    return {
        "fact": fact,
        "selected": selected,
        "found": sum(len(hosts) for _, _, hosts in rows),
        "values": [{"value": value, "text": text, "count": len(hosts), "hosts": hosts}
                   for text, value, hosts in rows],
    }
