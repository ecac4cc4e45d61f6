"""What transport needs to know about a host and about the run, validated once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One host as transport sees it: where to connect and as whom."""

    name: str
    address: str
    port: int = 22
    user: str | None = None
    key: str | None = None  # private key file


@dataclass(frozen=True)
class TransportOptions:
    """Run-wide connection settings. Timeouts are seconds and never None."""

    connect_timeout: float = 10.0
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_policy: str = "strict"  # "strict" | "accept-new"
    concurrency: int = 100
    keepalive_interval: float = 15.0

    def __post_init__(self) -> None:
        if self.host_key_policy not in ("strict", "accept-new"):
            raise ValueError(f"host_key_policy must be strict or accept-new, not {self.host_key_policy!r}")
        if self.connect_timeout <= 0 or self.concurrency < 1:
            raise ValueError("connect_timeout and concurrency must be positive")
