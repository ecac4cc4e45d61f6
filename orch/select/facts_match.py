"""Fact tests: ``cluster=alfa``, ``os.release.major>=12``, ``kernel=~/^Lin/i``.

One function per operator, as go-choria's ``filter/facts/matchers.go``. Comparison follows
MCollective's ``has_fact?``: values compare as text, and numerically only when both the fact
and the value are numbers; a missing fact (or JSON null) matches no operator, ``!=``
included. A list fact matches when one of its elements does (``!=``: when none equals the
value); a mapping fact is compared through its keys, as MCollective compared Ruby hashes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orch.errors import InputError, Where
from orch.facts.records import MISSING, value_text
from orch.select.pattern import compile_regex, split_slashed

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?$")
# key, spaces, operator (longest first), spaces, value: MCollective's parse_fact_string,
# plus its legacy spellings => and =<.
_EXPRESSION = re.compile(
    r"^(?P<key>[^\s=<>!~]+?)\s*(?P<op>=~|==|!=|<=|>=|=>|=<|<|>|=)\s*(?P<value>.*)$", re.DOTALL
)
_LEGACY = {"=>": ">=", "=<": "<="}
OPERATOR_CHARS = "=<>!~"


def as_number(value: Any) -> int | float | None:
    """The number a fact value or operand stands for, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER.match(value):
        try:
            number = float(value)
            if "." not in value and "e" not in value.lower():
                return int(value)
            return number
        except (ValueError, OverflowError):
            return None
    return None


@dataclass(frozen=True)
class Operand:
    """The right-hand side of a fact test, prepared once: text, number, compiled regex."""

    text: str
    number: int | float | None = None
    regex: re.Pattern | None = None


def _numbers(fact: Any, operand: Operand):
    if operand.number is None:
        return None
    number = as_number(fact)
    if number is None:
        return None
    return number, operand.number


def eq_match(fact: Any, operand: Operand) -> bool:
    """``==`` (and ``=``): same text, or same number when both are numbers."""
    pair = _numbers(fact, operand)
    if pair is not None:
        return pair[0] == pair[1]
    return value_text(fact) == operand.text


def ne_match(fact: Any, operand: Operand) -> bool:
    """``!=``: the fact exists and differs."""
    return not eq_match(fact, operand)


def lt_match(fact: Any, operand: Operand) -> bool:
    pair = _numbers(fact, operand)
    if pair is not None:
        return pair[0] < pair[1]
    return value_text(fact) < operand.text


def le_match(fact: Any, operand: Operand) -> bool:
    pair = _numbers(fact, operand)
    if pair is not None:
        return pair[0] <= pair[1]
    return value_text(fact) <= operand.text


def gt_match(fact: Any, operand: Operand) -> bool:
    pair = _numbers(fact, operand)
    if pair is not None:
        return pair[0] > pair[1]
    return value_text(fact) > operand.text


def ge_match(fact: Any, operand: Operand) -> bool:
    pair = _numbers(fact, operand)
    if pair is not None:
        return pair[0] >= pair[1]
    return value_text(fact) >= operand.text


def re_match(fact: Any, operand: Operand) -> bool:
    """``=~``: the regex matches somewhere in the fact's text (Ruby's ``String#match``)."""
    return operand.regex.search(value_text(fact)) is not None


def not_re_match(fact: Any, operand: Operand) -> bool:
    """``!=/re/``: the fact exists and the regex does not match it."""
    return not re_match(fact, operand)


OPERATORS: dict[str, Callable[[Any, Operand], bool]] = {
    "==": eq_match, "!=": ne_match, "<": lt_match, "<=": le_match, ">": gt_match,
    ">=": ge_match, "=~": re_match, "!~": not_re_match,
}
_NEGATIVE = {"!=", "!~"}


@dataclass(frozen=True)
class FactTest:
    """One fact comparison, parsed and compiled; ``matches(value)`` takes the raw fact value."""

    key: str
    operator: str
    operand: Operand
    source: str = ""
    function: Callable[[Any, Operand], bool] = field(default=eq_match, compare=False, repr=False)

    def matches(self, value: Any) -> bool:
        if value is MISSING or value is None:
            return False
        if isinstance(value, list | tuple):
            items = [item for item in value if item is not None]
            if self.operator in _NEGATIVE:
                positive = OPERATORS["==" if self.operator == "!=" else "=~"]
                return bool(items) and not any(positive(item, self.operand) for item in items)
            return any(self.function(item, self.operand) for item in items)
        if isinstance(value, Mapping):
            keys = list(value.keys())
            if self.operator in _NEGATIVE:
                positive = OPERATORS["==" if self.operator == "!=" else "=~"]
                return bool(keys) and not any(positive(item, self.operand) for item in keys)
            return any(self.function(item, self.operand) for item in keys)
        return self.function(value, self.operand)

    def __str__(self) -> str:
        return self.source or f"{self.key}{self.operator}{self.operand.text}"


def make_test(key: str, operator: str, value: str, where: Where | None = None,
              source: str = "") -> FactTest:
    """Build a FactTest from parsed parts; ``=``+``/re/`` means ``=~``, ``!=``+``/re/`` ``!~``.

    ``==`` always compares literally, as in MCollective (``k==/x/`` wants the text ``/x/``).
    """
    operator = _LEGACY.get(operator, operator)
    if not key:
        raise InputError("missing fact name before the operator", where)
    if value == "":
        raise InputError(f"missing value after '{operator}' for fact {key!r}", where)
    slashed = split_slashed(value) if value.startswith("/") else None
    if operator in ("=", "!=", "=~") and slashed is not None and slashed[0]:
        operator = {"=": "=~", "=~": "=~", "!=": "!~"}[operator]
    elif operator == "=":
        operator = "=="
    if operator in ("=~", "!~"):
        regex_source, flags = slashed if slashed is not None and slashed[0] else (value, "")
        regex = compile_regex(regex_source, flags, where)
        operand = Operand(value, None, regex)
    else:
        operand = Operand(value, as_number(value))
    return FactTest(key, operator, operand, source or f"{key}{operator}{value}", OPERATORS[operator])


def parse_fact_expression(text: str, where: Where | None = None) -> FactTest:
    """Parse one ``-F`` expression (MCollective's ``parse_fact_string``), or raise InputError.

    >>> parse_fact_expression("os.release.major>=12").operator
    '>='
    """
    match = _EXPRESSION.match(text.strip())
    if not match:
        raise InputError(
            f"expected FACT OPERATOR VALUE (operators = == != < <= > >= =~), got {text!r}", where
        )
    value = match.group("value").rstrip()
    return make_test(match.group("key"), match.group("op"), value, where, text.strip())
