"""The selection flags as one value (Filter) and its compiled form (Selector).

Repeated flags AND together, except ``-I``: several identities OR, as in MCollective. The
Selector applies the cheap tests first (identity, agent, class), then facts, then compound
expressions, each over the hosts still left, and finally ``--limit``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orch.errors import InputError, Where
from orch.facts.records import HostRecord, lookup
from orch.select.compound import MatchContext, evaluate, parse_compound
from orch.select.facts_match import FactTest, parse_fact_expression
from orch.select.pattern import NamePattern

#: The longest value of one -C/-F/-I/-A flag, in characters (-S has its own, the same).
MAX_FLAG_LENGTH = 64 * 1024
_LIMIT = re.compile(r"^\s*([0-9]{1,9})\s*(%?)\s*\Z")
_LIMIT_SALT = b"orch --limit"
#: modules every host offers whatever its ``agents`` say: rpcutil ships with the runtime,
#: as MCollective's rpcutil ran on every node
ALWAYS_OFFERED = frozenset({"rpcutil"})


def _strings(values) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        return (values,)
    return tuple(str(value) for value in values)


@dataclass(frozen=True)
class Filter:
    """The host selection a user asked for, as given (strings); ``compile()`` checks it.

    >>> Filter(facts=("cluster=alfa",), agents=("appmgr",)).describe()
    '-F cluster=alfa -A appmgr'
    """

    classes: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    compound: tuple[str, ...] = ()
    limit: str | None = None

    def __post_init__(self) -> None:
        for name in ("classes", "facts", "identities", "agents", "compound"):
            object.__setattr__(self, name, _strings(getattr(self, name)))
        if self.limit is not None:
            object.__setattr__(self, "limit", str(self.limit))

    @classmethod
    def from_args(cls, args) -> Filter:
        """From argparse results of ``add_selection_flags`` (missing attributes mean unset)."""
        return cls(
            classes=_strings(getattr(args, "classes", None)),
            facts=_strings(getattr(args, "facts", None)),
            identities=_strings(getattr(args, "identities", None)),
            agents=_strings(getattr(args, "agents", None)),
            compound=_strings(getattr(args, "compound", None)),
            limit=getattr(args, "limit", None),
        )

    def is_empty(self) -> bool:
        return not (self.classes or self.facts or self.identities or self.agents
                    or self.compound or self.limit)

    def describe(self) -> str:
        """The filter as flags, for messages: ``-F cluster=alfa -C web``."""
        parts = []
        for flag, values in (("-C", self.classes), ("-F", self.facts), ("-I", self.identities),
                             ("-A", self.agents), ("-S", self.compound)):
            for value in values:
                shown = value if value and not any(c.isspace() for c in value) else repr(value)
                parts.append(f"{flag} {shown}")
        if self.limit is not None:
            parts.append(f"--limit {self.limit}")
        return " ".join(parts) or "(no filter: every host)"

    def compile(self) -> Selector:
        """Parse every expression; a malformed one raises InputError naming the flag."""
        for flag, values in (("-C", self.classes), ("-F", self.facts), ("-I", self.identities),
                             ("-A", self.agents)):
            for value in values:
                if len(value) > MAX_FLAG_LENGTH:
                    raise InputError(f"value of {len(value)} characters, more than the "
                                     f"{MAX_FLAG_LENGTH} allowed", Where(path=flag))
        identities = tuple(NamePattern.parse(text, Where(path="-I"), allow_glob=True)
                           for text in self.identities)
        agents = tuple(NamePattern.parse(text, Where(path="-A")) for text in self.agents)
        classes = tuple(NamePattern.parse(text, Where(path="-C")) for text in self.classes)
        facts = tuple(parse_fact_expression(text, Where(path="-F")) for text in self.facts)
        compound = tuple(parse_compound(text, "-S") for text in self.compound)
        return Selector(identities, agents, classes, facts, compound, parse_limit(self.limit))


def parse_limit(text: str | None) -> tuple[int, bool] | None:
    """``'5'`` → (5, False), ``'50%'`` → (50, True); None stays None."""
    if text is None:
        return None
    match = _LIMIT.match(text)
    if not match:
        raise InputError(f"expected a count such as 5 or a percentage such as 20%, got {text!r}",
                         Where(path="--limit"))
    number, percent = int(match.group(1)), bool(match.group(2))
    if number < 1 or (percent and number > 100):
        raise InputError(f"must be 1..{'100%' if percent else 'N'}, got {text!r}",
                         Where(path="--limit"))
    return number, percent


def apply_limit(names: Sequence[str], limit: tuple[int, bool] | None) -> list[str]:
    """At most N hosts (or N% rounded down, at least one) of ``names``, chosen by a seeded hash.

    The choice depends only on the host names, so the same match gives the same hosts on every
    run and every controller, and adding one host to the fleet moves at most one choice. The
    result keeps the order of ``names``.
    """
    names = list(names)
    if limit is None or not names:
        return names
    number, percent = limit
    count = max(1, len(names) * number // 100) if percent else number
    if count >= len(names):
        return names

    def rank(name: str) -> bytes:
        return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8,
                               key=_LIMIT_SALT).digest()

    chosen = set(sorted(names, key=rank)[:count])
    return [name for name in names if name in chosen]


@dataclass(frozen=True)
class Selector:
    """A compiled Filter: ``select(context, names)`` returns the matching names, in order."""

    identities: tuple[NamePattern, ...] = ()
    agents: tuple[NamePattern, ...] = ()
    classes: tuple[NamePattern, ...] = ()
    facts: tuple[FactTest, ...] = ()
    compound: tuple = ()
    limit: tuple[int, bool] | None = None

    def prefilter(self, context: MatchContext, names: Iterable[str]) -> set:
        """The hosts passing the tests that never read facts: identity, agent, class."""
        candidates = set(names)
        if self.identities:
            candidates = {name for name in candidates
                          if any(pattern.matches(name) for pattern in self.identities)}
        for pattern in self.agents:
            candidates = context.with_agent(pattern, candidates)
        for pattern in self.classes:
            candidates = context.with_class(pattern, candidates)
        return candidates

    def select(self, context: MatchContext, names: Sequence[str],
               candidates: set | None = None) -> list[str]:
        """Names (from ``names``, in that order) that pass every test, then ``--limit``."""
        if candidates is None:
            candidates = self.prefilter(context, names)
        for test in self.facts:
            if not candidates:
                break
            candidates = context.with_fact(test, candidates)
        for tree in self.compound:
            if not candidates:
                break
            candidates = evaluate(tree, context, candidates)
        return apply_limit([name for name in names if name in candidates], self.limit)

    def select_records(self, records: Iterable) -> list:
        """Filter host records (anything with name/classes/agents/facts), keeping their order."""
        records = list(records)
        context = RecordContext(records)
        by_name = {record.name: record for record in records}
        return [by_name[name] for name in self.select(context, list(by_name))]


class RecordContext:
    """Match context over in-memory host records: each test is one pass over the candidates."""

    def __init__(self, records: Iterable):
        self.records = {record.name: record for record in records}

    def with_class(self, pattern: NamePattern, candidates: set) -> set:
        return {name for name in candidates if pattern.matches_any(self.records[name].classes)}

    def with_agent(self, pattern: NamePattern, candidates: set) -> set:
        return {name for name in candidates
                if not self.records[name].agents  # none listed: every module (select.offers)
                or pattern.matches_any(frozenset(self.records[name].agents) | ALWAYS_OFFERED)}

    def with_fact(self, test: FactTest, candidates: set) -> set:
        return {name for name in candidates
                if test.matches(lookup(self.records[name].facts, test.key))}


def select_records(filter: Filter, records: Iterable) -> list[HostRecord]:
    """Convenience: compile ``filter`` and apply it to plain records (tests, plays)."""
    return filter.compile().select_records(records)
