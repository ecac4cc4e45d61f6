"""Jinja2 for play values, with strict undefined names, checked before anything runs.

A value that is exactly one ``{{ expression }}`` keeps the expression's type (a list of host
names stays a list, a number stays a number); any other text renders to a string. ``check``
parses a value and lists the names it uses that the play never defines, and the filters and
tests Jinja2 does not have, so a typo is refused with its line before the first host is
contacted.

Templates come from play files and are bounded like any input: at most ``MAX_LENGTH``
characters, nested at most ``MAX_DEPTH`` deep, rendered in Jinja2's sandbox (no ``_``
attributes, ``range`` of at most 100,000 items) where ``*`` and ``**`` refuse results too big
to compute. Whatever a template raises at run time (``{{ 1/0 }}``, a type mismatch, an
overflow) is an InputError naming the field, never a traceback.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import jinja2.sandbox

from orch.errors import InputError, OrchError, Where

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}|\{\{).)*)\}\}\s*$", re.DOTALL)

#: The longest template accepted, in characters.
MAX_LENGTH = 64 * 1024
#: How deep a template's syntax tree may nest (parentheses, filters in filters, ``not``...).
MAX_DEPTH = 100
#: The biggest sequence ``*`` may repeat into, and the most bits an integer result may have.
MAX_REPEAT = 1_000_000
MAX_INT_BITS = 100_000


class _PlayEnvironment(jinja2.sandbox.SandboxedEnvironment):
    """The sandbox, with ``*`` and ``**`` checked before they compute (``'a' * 10**12``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, op: str, left, right):
        if op == "**":
            _check_power(left, right)
            return operator.pow(left, right)
        if op == "*":
            _check_product(left, right)
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_power(base, exponent) -> None:
    if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
        if base.bit_length() * exponent > MAX_INT_BITS:
            raise OverflowError(f"{base} ** {exponent} is too big to compute")


def _check_product(left, right) -> None:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list | tuple) and _is_int(count):
            if len(sequence) * count > MAX_REPEAT:
                raise OverflowError(f"repeating {len(sequence)} items {count} times is too big")
    if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise OverflowError("the product is too big to compute")


_ENV = _PlayEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                        keep_trailing_newline=True)
_UNSUPPORTED = {jinja2.nodes.Include: "include", jinja2.nodes.Import: "import",
                jinja2.nodes.FromImport: "from ... import", jinja2.nodes.Extends: "extends"}
# Names Jinja2 provides itself: never "undefined" in a play.
BUILTINS = frozenset(_ENV.globals) | {"true", "false", "none", "True", "False", "None"}


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _shown(text: str, width: int = 80) -> str:
    return repr(text) if len(text) <= width else repr(text[:width]) + "..."


def _parse(source: str, where: Where) -> jinja2.nodes.Template:
    """The syntax tree of ``source`` within the length and depth limits, else InputError."""
    if len(source) > MAX_LENGTH:
        raise InputError(f"template of {len(source)} characters, more than the {MAX_LENGTH} "
                         "allowed", where)
    try:
        tree = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as error:
        raise InputError(f"template error: {error.message}", where) from None
    except RecursionError:
        raise InputError(f"template nested more than {MAX_DEPTH} deep: {_shown(source)}",
                         where) from None
    stack = [(tree, 0)]
    while stack:  # iterative: the depth being checked is what would overflow a recursion
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"template nested more than {MAX_DEPTH} deep: {_shown(source)}",
                             where)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return tree


def check_names(text: str, where: Where) -> None:
    """Refuse a template whose syntax is bad, that is too long or too deep, or that uses a
    filter or test Jinja2 does not have (``{{ x | nosuchfilter }}``, ``x is nosuchtest``), or
    include/import/extends (a play has no template folder): all before anything runs.
    """
    _check_tree(_parse(text, where), text, where)


def _check_tree(tree: jinja2.nodes.Template, text: str, where: Where) -> None:
    for node in tree.find_all((jinja2.nodes.Filter, jinja2.nodes.Test)):
        if isinstance(node, jinja2.nodes.Filter) and node.name not in _ENV.filters:
            raise InputError(f"unknown filter {node.name!r} in {_shown(text)}", where)
        if isinstance(node, jinja2.nodes.Test) and node.name not in _ENV.tests:
            raise InputError(f"unknown test {node.name!r} in {_shown(text)}", where)
    for kind, name in _UNSUPPORTED.items():
        if tree.find(kind) is not None:
            raise InputError(f"{{% {name} %}} is not supported in plays: {_shown(text)}", where)


def _names_in(source: str, where: Where) -> set[str]:
    tree = _parse(source, where)
    _check_tree(tree, source, where)
    try:
        return set(jinja2.meta.find_undeclared_variables(tree))
    except jinja2.TemplateError as error:
        raise InputError(f"template error: {_message(error)}", where) from None
    except RecursionError:
        raise InputError(f"template nested too deeply: {_shown(source)}", where) from None


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
            raise InputError(f"undefined name {unknown[0]!r} in {_shown(value)}", where)


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
    tree = _parse(value, where)
    try:
        return _ENV.from_string(tree).render(context)
    except jinja2.TemplateError as error:
        raise InputError(f"template error in {_shown(value)}: {_message(error)}", where) from None
    except OrchError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a play's template raises is its error
        raise InputError(f"cannot render {_shown(value)}: {_failure(error)}", where) from None


def evaluate(expression: str, context: dict, where: Where) -> Any:
    """The value of a bare expression (``load < 1.5``, ``nodes.apps | length``)."""
    source = _bare(expression)
    _parse("{{ " + source + " }}", where)
    try:
        compiled = _ENV.compile_expression(source, undefined_to_none=False)
        result = compiled(**context)
    except jinja2.TemplateError as error:
        raise InputError(f"template error in {_shown(expression)}: {_message(error)}",
                         where) from None
    except OrchError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a play's expression raises is its error
        raise InputError(f"cannot evaluate {_shown(expression)}: {_failure(error)}",
                         where) from None
    if isinstance(result, jinja2.Undefined):
        try:
            str(result)
        except jinja2.TemplateError as error:  # UndefinedError, or the sandbox's SecurityError
            raise InputError(f"template error in {_shown(expression)}: {_message(error)}",
                             where) from None
    return result


def _message(error: jinja2.TemplateError) -> str:
    return getattr(error, "message", None) or str(error)


def _failure(error: Exception) -> str:
    """``ZeroDivisionError: division by zero``: the kind says more than the text alone."""
    text = str(error).splitlines()[0] if str(error) else ""
    if isinstance(error, RecursionError):
        text = "nested too deeply"
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__
