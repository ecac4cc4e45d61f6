"""``orch facts KEY``: a fact's value distribution over hosts, as ``mco facts`` prints it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orch.facts.records import value_text
from orch.select.facts_match import as_number


def distribution(groups: Sequence[tuple[Any, list[str]]]) -> list[tuple[str, Any, list[str]]]:
    """``[(text, value, [hosts])]`` per distinct printed value, numbers in numeric order first.

    ``groups`` is ``[(value, [hosts])]`` (hosts without the fact are simply absent); values
    that print the same (``12`` and ``"12"``) are counted together, as ``mco facts`` would.
    """
    merged: dict[str, tuple[Any, list[str]]] = {}
    for value, hosts in groups:
        text = value_text(value)
        entry = merged.get(text)
        if entry is None:
            merged[text] = (value, list(hosts))
        else:
            entry[1].extend(hosts)

    def key(text: str):
        number = as_number(text)
        return (0, number, text) if number is not None else (1, 0, text)

    return [(text, merged[text][0], sorted(merged[text][1])) for text in sorted(merged, key=key)]


def render_text(fact: str, rows: list, selected: int, verbose: bool = False) -> str:
    """The ``mco facts`` report: ``Report for fact: X``, then aligned ``value  found N times``."""
    width = max([40] + [len(text) + 2 for text, _, _ in rows])
    lines = [f"Report for fact: {fact}", ""]
    for text, _, hosts in rows:
        lines.append(f"        {text:<{width}}found {len(hosts)} times")
        if verbose:
            lines.append("")
            lines.extend(f"            {name}" for name in hosts)
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
