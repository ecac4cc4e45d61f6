"""Hiding sensitive values from everything that leaves the process.

A run knows its secrets (sensitive inputs of a play, sensitive arguments of a call, values a
Python play asked for with ``sensitive=True``). A module may echo one back in its reply data, an
abort message or an exception's text; the run's sink masks every event before the console, the
JSON Lines stream or the journal sees it, for calls and plays alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from orch.schema import MASK

# Event fields that are orch's own names, never a module's text: left as they are.
_KEEP = frozenset({"run_id", "step", "host", "hosts", "module", "action", "kind", "at", "nodes",
                   "status"})


class Masker:
    """The run's secrets, and the functions that hide them in text and in events."""

    def __init__(self, secrets: Iterable[Any] = ()):
        self._texts: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any) -> None:
        """Hide ``secret`` (its text) from now on; empty values hide nothing."""
        text = _text(secret)
        if text and text != MASK and text not in self._texts:
            self._texts.append(text)
            self._texts.sort(key=len, reverse=True)  # "abc123" before "abc"

    def __bool__(self) -> bool:
        return bool(self._texts)

    def __call__(self, text: str) -> str:
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """``value`` with every string inside it masked (reply data, nested lists and dicts)."""
        if not self._texts:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, int | float) and not isinstance(value, bool) and _text(value) in self._texts:
            return MASK
        return value

    def event(self, event: Any) -> Any:
        """``event`` with its texts and data masked; the same object when nothing changes."""
        if not self._texts:
            return event
        changes = {}
        for field in dataclasses.fields(event):
            if field.name in _KEEP:
                continue
            current = getattr(event, field.name)
            masked = self.value(current)
            if masked != current:
                changes[field.name] = masked
        return dataclasses.replace(event, **changes) if changes else event


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
