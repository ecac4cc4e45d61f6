"""Every host's outcome is a value; one host never sinks the others."""

from __future__ import annotations

from dataclasses import dataclass, field

OK = "OK"
UNREACHABLE = "Unreachable"  # controller-side state: not a reply status


@dataclass(frozen=True)
class HostResult:
    host: str
    status: str  # OK Aborted UnknownAction MissingData InvalidData UnknownError | Unreachable
    message: str
    data: dict
    elapsed: float
    tries: int

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def unreachable(self) -> bool:
        return self.status == UNREACHABLE


@dataclass
class StepResult:
    """Host name → HostResult for one call, with the views a play decides on."""

    module: str
    action: str
    results: dict[str, HostResult] = field(default_factory=dict)
    totaltime: float = 0.0

    @property
    def ok(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if r.ok}

    @property
    def failed(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if not r.ok and not r.unreachable}

    @property
    def unreachable(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if r.unreachable}

    @property
    def all_ok(self) -> bool:
        return all(r.ok for r in self.results.values())
