"""How one step calls its hosts: the one set of call options every front end builds.

``orch call`` flags, a YAML step's keys and the Python play API's keywords all end up here, with
one default per option (the table below is also what ``orch call --help`` and the play
reference print). Values are checked when the options are built: a bad value is an InputError
naming its field before anything is sent, never a traceback or a hang half way through a run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from orch.errors import InputError, Where

MAX_SLEEP = 3600.0  # seconds: a pause longer than an hour is a typo, not a plan
MAX_TIMEOUT = 86400.0


@dataclass(frozen=True)
class Option:
    """One call option: its kind, range and the words that document it."""

    name: str
    kind: str  # int | seconds | bool | max_fail
    help: str
    minimum: float = 0
    maximum: float = math.inf
    flag: str = ""  # the orch call flag, when it has one


OPTIONS: tuple[Option, ...] = (
    Option("batch_size", "int", "call N hosts at a time (0: all at once)", 0, 1_000_000, "--batch"),
    Option("batch_sleep", "seconds", "pause between batches", 0, MAX_SLEEP, "--batch-sleep"),
    Option("tries", "int", "tries per host", 1, 100, "--tries"),
    Option("try_sleep", "seconds", "pause between tries of a host", 0, MAX_SLEEP, "--try-sleep"),
    Option("timeout", "seconds", "request timeout (default: the module's)", 0.001, MAX_TIMEOUT,
           "--timeout"),
    Option("concurrency", "int", "hosts in flight at once (default: orch.cfg concurrency)", 1,
           100_000, "--concurrency"),
    Option("verbose", "bool", "a line per host"),
    Option("summarize", "bool", "the action's aggregate summaries"),
    Option("fail_ok", "bool", "failed hosts do not fail the step"),
    Option("max_fail", "max_fail", "failed hosts the step tolerates: a count or N%"),
    Option("check", "bool", "dry run: actions that support it report what they would change; "
           "the others are skipped", flag="--check"),
    Option("lock", "bool", "take the run lock of the hosts (off: --no-lock)"),
    Option("become", "bool", "run the action as another user (sudo; default: the host's "
           "ansible_become)"),
    Option("become_user", "name", "the user to become (default: ansible_become_user, else root)"),
    Option("become_method", "name", "sudo, su or doas (default: ansible_become_method, else "
           "sudo); each takes a password from -K, --become-password-file or "
           "ansible_become_password: sudo on its stdin, su (root's password) and doas on a "
           "pseudo-terminal orch opens for that session only"),
)
BY_NAME = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class CallOptions:
    """The options of one call step; the defaults are orch's, for every front end."""

    batch_size: int = 0
    batch_sleep: float = 0.0
    tries: int = 1
    try_sleep: float = 10.0  # the seed's default sleep between tries
    timeout: float | None = None  # None: the module's declared timeout, else orch.cfg's
    concurrency: int | None = None  # None: orch.cfg's concurrency
    verbose: bool = False
    summarize: bool = False
    fail_ok: bool = False
    max_fail: int | str = 0  # a count, or "N%" of the step's hosts
    check: bool = False
    lock: bool = True
    become: bool | None = None  # None: each host's ansible_become
    become_user: str | None = None
    become_method: str | None = None

    def __post_init__(self) -> None:
        for option in OPTIONS:
            value = getattr(self, option.name)
            if value is not None:
                object.__setattr__(self, option.name, parse(option.name, value))

    @classmethod
    def build(cls, values: Mapping[str, Any], where: Callable[[str], Where | None] = lambda _: None,
              base: CallOptions | None = None) -> CallOptions:
        """Options from ``values`` (text or typed), over ``base`` (default: orch's defaults).

        ``where(name)`` says where a value came from, so errors name the flag or the play line.
        """
        changes = {}
        for name, value in values.items():
            if name not in BY_NAME:
                raise InputError(f"unknown call option {name!r}", where(name))
            if value is None:
                continue
            try:
                changes[name] = parse(name, value)
            except InputError as error:
                raise InputError(error.message, where(name)) from None
        return replace(base or cls(), **changes)

    def allowed_failures(self, total: int) -> int:
        """How many of ``total`` hosts may fail before the step fails."""
        if isinstance(self.max_fail, str):
            return math.floor(float(self.max_fail[:-1]) * total / 100)
        return int(self.max_fail)


def parse(name: str, value: Any) -> Any:
    """One option's value, typed and range-checked; InputError naming the option."""
    option = BY_NAME[name]
    if option.kind == "bool":
        if isinstance(value, bool):
            return value
        raise InputError(f"{name}: expected true or false, got {value!r}")
    if option.kind == "max_fail":
        return _max_fail(value)
    if option.kind == "name":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.@-]*", value):
            raise InputError(f"{name}: expected a name, got {value!r}")
        return value
    if option.kind == "int":
        number = _integer(name, value)
    else:
        number = _seconds(name, value)
    if not option.minimum <= number <= option.maximum:
        raise InputError(f"{name}: must be {_range(option)}, got {value!r}")
    return number


def default(name: str) -> Any:
    return next(field.default for field in fields(CallOptions) if field.name == name)


def describe(name: str) -> str:
    """The help text of an option with its default and range, for --help and the docs."""
    option = BY_NAME[name]
    value = default(name)
    text = option.help
    if value not in (None, False, True) and option.kind != "bool":
        text += f" (default {value:g}{'s' if option.kind == 'seconds' else ''})" \
            if isinstance(value, int | float) else f" (default {value})"
    if option.kind in ("int", "seconds"):
        text += f"; {_range(option)}"
    return text


def _range(option: Option) -> str:
    unit = "s" if option.kind == "seconds" else ""
    if option.maximum == math.inf:
        return f"at least {option.minimum:g}{unit}"
    if option.minimum == 0.001:
        return f"more than 0 and at most {option.maximum:g}{unit}"
    return f"{option.minimum:g}–{option.maximum:g}{unit}"


_INTEGER = re.compile(r"[0-9]+", re.ASCII)
_SECONDS = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ms|s|m|h)?", re.ASCII)
_UNITS = {None: 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "h": 3600.0}


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise InputError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip(" ")):
        return int(value.strip(" "))
    raise InputError(f"{name}: expected an integer (ASCII digits), got {value!r}")


def _seconds(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InputError(f"{name}: expected seconds, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (match := _SECONDS.fullmatch(value.strip(" "))):
        number = float(match.group(0)[: len(match.group(0)) - len(match.group(1) or "")])
        number *= _UNITS[match.group(1)]
    else:
        raise InputError(f"{name}: expected seconds (e.g. 10, 1.5, 500ms, 2m), got {value!r}")
    if not math.isfinite(number):
        raise InputError(f"{name}: expected a finite number of seconds, got {value!r}")
    return number


def _max_fail(value: Any) -> int | str:
    if isinstance(value, bool):
        raise InputError(f"max_fail: expected a count or N%, got {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str):
        text = value.strip(" ")
        if _INTEGER.fullmatch(text):
            return int(text)
        match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)%", text, re.ASCII)
        if match and float(match.group(1)) <= 100:
            return f"{match.group(1)}%"
    raise InputError(f"max_fail: expected a count or N% (0–100), got {value!r}")


#: orch's defaults, for callers that give none.
DEFAULT_OPTIONS = CallOptions()
