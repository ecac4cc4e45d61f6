"""Typed inputs: the one schema behind module declarations, YAML play inputs and Python plays.

Values arrive as text (``k=v`` on a command line, ``-e name=value``, a prompt) or as YAML/Python
values. ``Input.convert`` types text strictly (ASCII digits only, finite numbers, the boolean
words below) and then checks the value with the runtime's own ``check_value``: the function
each host runs again before acting, so the controller refuses exactly what a host would.
Validation regexes match the whole value (``$`` means the end of the text; see
``core.strict_pattern``), and named validators (``shellsafe``, ``ipv4address``,
``ipv6address``) mean the same wherever they are written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from orch.errors import InputError, Where
from orch.runtime import core

MASK = core.MASK
INPUT_TYPES = core.INPUT_TYPES
VALIDATORS = core.VALIDATORS

TRUE_WORDS = ("true", "yes", "y", "1", "on")
FALSE_WORDS = ("false", "no", "n", "0", "off")

_INTEGER = re.compile(r"[-+]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", re.ASCII)


class SchemaError(ValueError):
    """A value does not fit its input; ``message`` never holds a sensitive value."""


@dataclass(frozen=True)
class Input:
    """One declared input, whoever declared it (a module action, a play, a Python play)."""

    name: str
    type: str = "string"
    validation: str | None = None
    maxlength: int = 0
    enum: tuple = ()
    sensitive: bool = False
    required: bool = False
    default: Any = None
    has_default: bool = False
    prompt: str = ""
    description: str = ""

    @classmethod
    def from_declaration(cls, name: str, spec: Mapping) -> Input:
        """An input from a module's declaration dict (``{"type": "integer", ...}``)."""
        return cls(name=name, type=spec.get("type", "string"), validation=spec.get("validation"),
                   maxlength=int(spec.get("maxlength") or 0), enum=tuple(spec.get("enum") or ()),
                   sensitive=bool(spec.get("sensitive")), required=core.input_required(spec),
                   default=spec.get("default"), has_default=spec.get("default") is not None,
                   prompt=str(spec.get("prompt") or ""),
                   description=str(spec.get("description") or ""))

    def declaration(self) -> dict:
        """The dict form the runtime's ``check_value`` reads."""
        spec: dict[str, Any] = {"type": self.type}
        if self.validation:
            spec["validation"] = self.validation
        if self.maxlength:
            spec["maxlength"] = self.maxlength
        if self.enum:
            spec["enum"] = list(self.enum)
        if self.sensitive:
            spec["sensitive"] = True
        return spec

    def shown(self, value: Any) -> str:
        return MASK if self.sensitive else repr(value)

    def convert(self, value: Any, where: Where | None = None) -> Any:
        """``value`` typed (text is parsed) and checked; InputError naming the input."""
        try:
            typed = coerce(self.type, value) if isinstance(value, str) else value
            if self.type == "float" and type(typed) is int:
                typed = float(typed)
            core.check_value(self.name, self.declaration(), typed)
        except SchemaError as error:
            raise InputError(f"input {self.name!r}: {error} (got {self.shown(value)})", where) \
                from None
        except core.ValidationError as error:
            raise InputError(error.message, where) from None
        return typed


def check_validation(validation: Any) -> str | None:
    """What is wrong with a ``validation`` setting (a validator name or a regex); None if fine."""
    if not isinstance(validation, str) or not validation:
        return "expected a validator name or a regular expression"
    if validation in VALIDATORS:
        return None
    try:
        re.compile(core.strict_pattern(validation))
    except re.error as error:
        return f"not a valid regular expression: {error}"
    return None


def validation_problem(validation: str, text: str) -> str | None:
    """What is wrong with ``text`` under a validator name or regex (the host's own check)."""
    return core.validation_problem(validation, text)


def coerce(kind: str, text: str) -> Any:
    """One text to ``kind``: "20" → 20, "1.5" → 1.5, "yes" → True, "a,b" → ["a", "b"].

    Strict where Python is lenient: ``int("٢٠")`` and ``int("1_000")`` are numbers to Python,
    not to an operator's input; NaN and infinities are not numbers an action can use.
    """
    stripped = text.strip(" \t")
    if kind == "string":
        return text
    if kind == "integer":
        if not _INTEGER.fullmatch(stripped):
            raise SchemaError("expected an integer (ASCII digits)")
        return int(stripped)
    if kind in ("float", "number"):
        if kind == "number" and _INTEGER.fullmatch(stripped):
            return int(stripped)
        if not _FLOAT.fullmatch(stripped):
            raise SchemaError("expected a number")
        number = float(stripped)
        if not math.isfinite(number):
            raise SchemaError("expected a finite number")
        return number
    if kind == "boolean":
        word = stripped.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise SchemaError("expected true or false")
    if kind in ("list", "array"):
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError:
                value = None
            if not isinstance(value, list):
                raise SchemaError("expected a JSON array or comma-separated items")
            return value
        return [item.strip() for item in stripped.split(",") if item.strip()]
    if kind == "hash":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise SchemaError("expected a JSON object")
        return value
    raise SchemaError(f"unknown type {kind!r}")


def coerce_args(declaration: Mapping, action: str, args: Mapping) -> dict:
    """Command-line ``k=v`` strings typed as ``action`` declares its inputs.

    Values that are not strings, and inputs the action does not declare, pass unchanged for
    ``core.validate_args`` to judge. Raises ``core.ValidationError`` (InvalidData).
    """
    inputs = core.find_action(declaration, action).get("inputs") or {}
    result = {}
    for name, value in (args or {}).items():
        spec = inputs.get(name)
        if spec is None or not isinstance(value, str):
            result[name] = value
            continue
        try:
            result[name] = coerce(spec.get("type", "string"), value)
        except SchemaError as error:
            shown = "" if spec.get("sensitive") else f" (got {value!r})"
            raise core.ValidationError(core.INVALID_DATA, f"input '{name}': {error}{shown}",
                                       name) from None
    return result


def masked(inputs: Mapping[str, Input], values: Mapping[str, Any]) -> dict:
    """``values`` with every sensitive input's value replaced by MASK."""
    return {name: (MASK if name in inputs and inputs[name].sensitive else value)
            for name, value in values.items()}
