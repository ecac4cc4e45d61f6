"""Every host's outcome is a value; one host never sinks the others."""

from __future__ import annotations

from dataclasses import dataclass, field

from orch.runtime.core import OK

UNREACHABLE = "Unreachable"  # controller-side state: not a reply status
SKIPPED = "Skipped"  # controller-side state: not sent (no check mode, resumed)


@dataclass(frozen=True)
class HostResult:
    host: str
    status: str  # a reply status (orch.runtime.core.STATUSES) | Unreachable | Skipped
    message: str
    data: dict
    elapsed: float
    tries: int
    changed: bool | None = None  # what the reply said; None when it did not say
    caller: str = ""  # the identity the host verified (its hello)
    mode: str = ""  # open | restricted (its hello)

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def unreachable(self) -> bool:
        return self.status == UNREACHABLE

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED


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
        return {h: r for h, r in self.results.items()
                if not r.ok and not r.unreachable and not r.skipped}

    @property
    def unreachable(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if r.unreachable}

    @property
    def skipped(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if r.skipped}

    @property
    def changed(self) -> dict[str, HostResult]:
        return {h: r for h, r in self.results.items() if r.ok and r.changed}

    @property
    def all_ok(self) -> bool:
        return all(r.ok or r.skipped for r in self.results.values())
