"""Jinja2 for play values, with strict undefined names, checked before anything runs.

A value that is exactly one ``{{ expression }}`` keeps the expression's type (a list of host
names stays a list, a number stays a number); any other text renders to a string. ``check``
parses a value and lists the names it uses that the play never defines, so a typo is refused
with its line before the first host is contacted.
"""

from __future__ import annotations

import re
from typing import Any

import jinja2
import jinja2.meta

from orch.errors import InputError, Where

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)

_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=True)
# Names Jinja2 provides itself: never "undefined" in a play.
BUILTINS = frozenset(_ENV.globals) | {"true", "false", "none", "True", "False", "None"}


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _names_in(source: str, where: Where) -> set[str]:
    try:
        ast = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise InputError(f"template error: {error.message}", where) from None
    return set(jinja2.meta.find_undeclared_variables(ast))


def check(value: Any, known: set[str] | frozenset[str], where: Where) -> None:
    """Refuse template syntax errors and names not in ``known`` anywhere inside ``value``."""
    if isinstance(value, dict):
        for item in value.values():
            check(item, known, where)
    elif isinstance(value, list | tuple):
        for item in value:
            check(item, known, where)
    elif is_template(value):
        unknown = sorted(_names_in(value, where) - set(known) - BUILTINS)
        if unknown:
            raise InputError(f"undefined name {unknown[0]!r} in {value!r}", where)


def check_expression(expression: str, known: set[str] | frozenset[str], where: Where) -> None:
    """Like ``check`` for a bare condition such as ``load < 1.5``."""
    unknown = sorted(_names_in("{{ " + _bare(expression) + " }}", where) - set(known) - BUILTINS)
    if unknown:
        raise InputError(f"undefined name {unknown[0]!r} in {expression!r}", where)


def _bare(expression: str) -> str:
    match = _SINGLE.match(expression)
    return match.group("expr") if match else expression


def render(value: Any, context: dict, where: Where) -> Any:
    """Render templates inside ``value`` (dicts and lists recursively) with ``context``."""
    if isinstance(value, dict):
        return {key: render(item, context, where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [render(item, context, where) for item in value]
    if not is_template(value):
        return value
    match = _SINGLE.match(value)
    if match:
        return evaluate(match.group("expr"), context, where)
    try:
        return _ENV.from_string(value).render(context)
    except jinja2.TemplateError as error:
        raise InputError(f"template error in {value!r}: {_message(error)}", where) from None


def evaluate(expression: str, context: dict, where: Where) -> Any:
    """The value of a bare expression (``load < 1.5``, ``nodes.apps | length``)."""
    source = _bare(expression)
    try:
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
        result = compiled(**context)
    except jinja2.TemplateError as error:
        raise InputError(f"template error in {expression!r}: {_message(error)}", where) from None
    except (TypeError, ValueError, ZeroDivisionError) as error:
        raise InputError(f"cannot evaluate {expression!r}: {error}", where) from None
    if isinstance(result, jinja2.Undefined):
        try:
            str(result)
        except jinja2.UndefinedError as error:
            raise InputError(f"template error in {expression!r}: {error.message}", where) from None
    return result


def _message(error: jinja2.TemplateError) -> str:
    return getattr(error, "message", None) or str(error)
