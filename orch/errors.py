"""Errors every layer raises, and the exit codes the CLI turns them into.

This module is a leaf: it imports nothing from orch, so any layer may raise these.
Only ``orch.cli`` catches them to print one line and pick an exit code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitStatus(enum.IntEnum):
    """What ``orch`` returns to the shell (DESIGN §4)."""

    OK = 0
    HOSTS_FAILED = 1  # some host failed or was unreachable, or nothing matched
    BAD_INPUT = 2  # bad input or usage; nothing was sent


@dataclass(frozen=True)
class Where:
    """A place in a user's file: ``plays/up.yml:14: steps[2].batch_size``."""

    file: str | None = None
    line: int | None = None
    path: str | None = None  # dotted path inside the file, or a flag name such as "-S"
    column: int | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.path:
            parts.append(self.path)
        return ": ".join(parts)


class OrchError(Exception):
    """Base of every error orch raises on purpose; ``exit_status`` says how the CLI exits."""

    exit_status: ExitStatus = ExitStatus.HOSTS_FAILED

    def __init__(self, message: str, where: Where | None = None):
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        if self.where is not None and str(self.where):
            return f"{self.where}: {self.message}"
        return self.message


class InputError(OrchError):
    """Bad input from the user (flags, files, expressions): exit 2, nothing was sent."""

    exit_status = ExitStatus.BAD_INPUT


class NothingMatched(OrchError):
    """Selection found no host: exit 1 with the reason (or a play's ``when_empty``)."""

    exit_status = ExitStatus.HOSTS_FAILED


class HostsFailed(OrchError):
    """A run finished with failed or unreachable hosts; the events already told which."""

    exit_status = ExitStatus.HOSTS_FAILED


class TransportError(OrchError):
    """A host could not be reached or used; the run goes on without it."""


class Unreachable(TransportError):
    """Connection refused, timed out, or dropped: the host's state is *unreachable*."""


class HostKeyRejected(Unreachable):
    """The host's key is unknown or changed; nothing was sent to it."""


class ChannelLost(Unreachable):
    """The connection or its process channel dropped mid-request.

    A kind of ``Unreachable`` (the host is marked unreachable and its connection dropped, as
    for a refused connection) that says the failure came after the host was reached, so the
    request may have run there.
    """


class RequestTimeout(TransportError):
    """A request got no reply within its timeout."""
