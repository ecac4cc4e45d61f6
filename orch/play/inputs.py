"""A play's inputs: given with ``-e``, asked on a terminal, or defaulted; validated, typed, masked.

Nothing here reads stdin: the CLI passes an ``ask(spec) -> str | None`` callback that prompts
on a terminal (and returns None when there is none). Sensitive values are replaced by
``MASK`` in anything that leaves the process (events, journal, console).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from orch.errors import InputError, Where
from orch.play.model import InputSpec
from orch.schema import MASK

__all__ = ["MASK", "Ask", "convert", "masked", "parse_assignments", "resolve_inputs"]

Ask = Callable[[InputSpec], "str | None"]


def parse_assignments(items: Iterable[str], flag: str = "-e") -> dict[str, str]:
    """``["cluster=bravo", "revision=20"]`` → dict; a malformed item is an InputError."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InputError(f"expected name=value, got {item!r}", Where(path=flag))
        values[name] = value
    return values


def convert(spec: InputSpec, value: Any, where: Where) -> Any:
    """``value`` typed and checked as the spec says (``orch.schema``: the one input schema)."""
    return spec.schema().convert(value, where)


def resolve_inputs(
    specs: Iterable[InputSpec],
    given: dict[str, Any],
    ask: Ask | None = None,
    file: str | None = None,
    flag: str = "-e",
) -> dict[str, Any]:
    """Every input's value, in spec order: given, else asked, else default, else an InputError.

    Unknown names in ``given`` are refused so a typo (``-e revison=20``) never goes unnoticed.
    """
    specs = list(specs)
    known = {spec.name for spec in specs}
    for name in given:
        if name not in known:
            takes = ", ".join(sorted(known)) or "none"
            raise InputError(f"unknown input {name!r} (this play takes: {takes})",
                             Where(file, None, f"{flag} {name}"))
    values: dict[str, Any] = {}
    for spec in specs:
        if spec.name in given:
            values[spec.name] = convert(spec, given[spec.name], Where(None, None, f"{flag} {spec.name}"))
            continue
        answer = ask(spec) if ask is not None and not spec.has_default else None
        if answer is not None:
            values[spec.name] = convert(spec, answer, Where(None, None, f"input {spec.name}"))
        elif spec.has_default:
            values[spec.name] = convert(spec, spec.default, spec.where)
        else:
            raise InputError(f"input {spec.name!r} is required: give {flag} {spec.name}=VALUE",
                             spec.where)
    return values


def masked(specs: Iterable[InputSpec], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every sensitive one replaced by MASK (for events and the journal)."""
    sensitive = {spec.name for spec in specs if spec.sensitive}
    return {name: (MASK if name in sensitive else value) for name, value in values.items()}
