"""Every event the engine emits: the one data path from runner to console, JSON and journal.

The runner and the play engine call a ``sink(event)`` they were handed. Console, plain text,
JSON Lines and the journal are readers of the same stream. Each event is a frozen dataclass of
plain data, so ``to_dict`` is ``asdict`` plus a ``type`` key. Names are past-tense facts.
Importing this module never loads rich.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class Event:
    """Base: every event carries the wall-clock time it happened."""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["type"] = type(self).__name__
        return data


@dataclass(frozen=True)
class RunStarted(Event):
    run_id: str
    name: str  # play name, or "call module.action"
    kind: str  # "play" | "call"
    inputs: dict  # sensitive values already masked
    caller: str  # who ran orch (the controller's user); each host's verified caller: HostReplied
    resumed_from: str | None = None
    check: bool = False  # a dry run: requests go in check mode
    ssh_tuning: dict = field(default_factory=dict)  # asyncssh adjustment -> "on" | "off: why"
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class Announced(Event):
    """A play's ``announce`` step: a banner on the console."""

    text: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class Discovered(Event):
    """A node set resolved: which hosts, from which filter."""

    nodes: str  # node-set name, or "call"
    hosts: list
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepStarted(Event):
    step: str  # step id, e.g. "steps[3]" or "steps[4].batch[2].steps[0]"
    module: str
    action: str
    hosts: list
    batch_size: int = 0
    verbose: bool = False  # the step asked for a line per host
    display: dict = field(default_factory=dict)  # output key -> its display_as name
    check: bool = False
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class BatchStarted(Event):
    step: str
    index: int  # 1-based
    count: int  # number of batches
    hosts: list
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class HostStarted(Event):
    step: str
    host: str
    attempt: int
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class HostReplied(Event):
    """A host answered. ``status`` is one of OK Aborted UnknownAction MissingData InvalidData
    UnknownError; ``final`` is False when the step will try this host again."""

    step: str
    host: str
    status: str
    message: str
    data: dict
    elapsed: float
    attempt: int
    final: bool = True
    changed: bool | None = None  # the reply said whether the action changed anything
    caller: str = ""  # the identity the host verified and audited
    mode: str = ""  # open | restricted: the host's trust mode (its hello; docs/trust.md)
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class HostUnreachable(Event):
    """A host could not be reached, its key was refused, or it dropped mid-request."""

    step: str
    host: str
    reason: str
    elapsed: float
    attempt: int
    final: bool = True
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class HostSkipped(Event):
    """Not sent: the (step, host) succeeded in the run being resumed, or the action has no
    check mode in a dry run."""

    step: str
    host: str
    reason: str
    status: str = "Skipped"  # Skipped (done before: --resume) | NotRun (no check mode)
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepDone(Event):
    """The done line: ``done appmgr#upgrade [discovered=4 responses=4 ...]``."""

    step: str
    module: str
    action: str
    discovered: int
    responses: int
    okcount: int
    failcount: int
    unreachable: int
    totaltime: float
    batch: int
    changed: int = 0
    skipped: int = 0
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class Summarized(Event):
    """Aggregate summaries of a step: ``Summary of Revision:`` then ``Revision 20: 4 nodes``."""

    step: str
    title: str  # "Summary of Revision"
    lines: list  # [["Revision 20", "4 nodes"], ...] label/value pairs, already formatted
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class StepFailed(Event):
    """A play step failed and the play stops (on_fail runs next)."""

    step: str
    reason: str
    at: float = field(default_factory=_now)


@dataclass(frozen=True)
class RunDone(Event):
    run_id: str
    ok: bool
    failed: dict  # host -> reason
    unreachable: dict  # host -> reason
    elapsed: float
    message: str = ""
    status: str = ""  # ok | failed | interrupted
    recap: dict = field(default_factory=dict)  # host -> {ok, changed, failed, unreachable, skipped}
    at: float = field(default_factory=_now)


Sink = Callable[[Event], None]

ALL_EVENTS = (
    RunStarted, Announced, Discovered, StepStarted, BatchStarted, HostStarted, HostReplied,
    HostUnreachable, HostSkipped, StepDone, Summarized, StepFailed, RunDone,
)
