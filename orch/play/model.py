"""A play as data: what the loader checked and the engine runs.

Every part carries a ``Where`` so an error found at load time or at run time names the line of
the play file it came from. Values that may hold Jinja2 templates (args, numbers, texts) are
kept raw here and rendered by the engine with the run's context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orch.errors import Where
from orch.schema import INPUT_TYPES, Input

__all__ = ["INPUT_TYPES"]


@dataclass(frozen=True)
class InputSpec:
    """One input: ``-e name=value``, else a prompt on a terminal, else its default."""

    name: str
    where: Where
    prompt: str = ""
    type: str = "string"
    validation: str | None = None
    default: Any = None
    sensitive: bool = False
    description: str = ""
    has_default: bool = False
    maxlength: int = 0
    enum: tuple = ()

    def schema(self) -> Input:
        """This input in the one schema modules and Python plays share (``orch.schema``)."""
        return Input(name=self.name, type=self.type, validation=self.validation,
                     maxlength=self.maxlength, enum=self.enum, sensitive=self.sensitive,
                     required=not self.has_default, default=self.default,
                     has_default=self.has_default, prompt=self.prompt,
                     description=self.description)


@dataclass(frozen=True)
class NodeSet:
    """A named host set resolved by selection (the ``-C -F -I -A -S --limit`` filters)."""

    name: str
    where: Where
    classes: tuple = ()
    facts: tuple = ()
    identities: tuple = ()
    agents: tuple = ()
    compound: tuple = ()
    limit: Any = None
    when_empty: str | None = None
    ping: bool = False
    at_least: Any = None
    lock: bool = True  # one run at a time changes these hosts (false: shared, e.g. a load balancer)
    become: bool | None = None  # steps on this set escalate (None: the play's setting)


@dataclass(frozen=True)
class CallStep:
    """``call: module.action`` on a node set, batched and retried by the runner."""

    id: str
    where: Where
    module: str
    action: str
    nodes: str
    args: dict = field(default_factory=dict)
    batch_size: Any = 0
    batch_sleep: Any = 0
    tries: Any = 1
    try_sleep: Any = 10
    timeout: Any = None
    verbose: bool = False
    summarize: bool = False
    fail_ok: bool = False
    max_fail: Any = 0  # count, or "N%" of the step's hosts
    condition: str | None = None  # ``assert:`` over each OK reply's data
    register: str | None = None
    rerun_on_resume: bool = False  # ``resume: rerun``: run again on --resume even where it succeeded
    name: str = ""
    become: bool | None = None  # None: the node set's, else the play's, else orch play -b
    become_user: str | None = None
    check: bool | None = None  # ``check: true``: this step runs in check mode


@dataclass(frozen=True)
class AnnounceStep:
    id: str
    where: Where
    text: str


@dataclass(frozen=True)
class AssertStep:
    """Stop the play (on_fail runs) when ``that`` is false."""

    id: str
    where: Where
    that: str
    message: str = ""


@dataclass(frozen=True)
class PlayStep:
    """Run another play file with inputs rendered from this one."""

    id: str
    where: Where
    play: Play
    inputs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RollingStep:
    """Nested steps run per batch of a node set: the zero-downtime pattern."""

    id: str
    where: Where
    nodes: str
    batch_size: Any
    steps: tuple
    batch_sleep: Any = 0


Step = CallStep | AnnounceStep | AssertStep | PlayStep | RollingStep


@dataclass(frozen=True)
class Play:
    name: str
    file: str
    description: str = ""
    requires: tuple = ()
    inputs: tuple = ()  # of InputSpec, in file order
    nodes: tuple = ()  # of NodeSet, in file order
    steps: tuple = ()
    on_fail: tuple = ()
    on_success: tuple = ()
    on_interrupt: tuple | None = None  # None: an interrupt runs on_fail
    become: bool | None = None  # every step escalates unless its node set or itself says no

    def input(self, name: str) -> InputSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)
