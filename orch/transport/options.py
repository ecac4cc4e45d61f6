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
    key: str | None = None  # private key file (the first explicit one)
    # Resolved as OpenSSH does (orch.transport.sshconfig); the defaults are the old behaviour.
    identities: tuple[tuple[str, str], ...] = ()  # (key file, where it came from)
    identities_only: bool = False
    agent: str = ""  # ssh-agent socket ("" : none)
    jump: Target | None = None  # the hop just before this host (its own .jump before it)
    proxy_command: tuple[str, ...] = ()  # ProxyCommand's argv, tokens expanded (no shell)
    known_hosts: tuple[str, ...] = ()  # user files; new keys go to the first ("": the run's)
    global_known_hosts: tuple[str, ...] = ()
    host_key_alias: str = ""
    host_key_policy: str = ""  # "strict" | "accept-new" ("": the run's)
    connect_timeout: float | None = None
    keepalive_interval: float | None = None
    given: str = ""  # the name ssh was given (ansible_host, else the inventory name)

    @property
    def key_name(self) -> str:
        """The name host keys are looked up and recorded under, as OpenSSH does."""
        return self.host_key_alias or self.address

    @property
    def where(self) -> str:
        """``user@name (address:port) via bast`` for messages."""
        text = f"{self.user + '@' if self.user else ''}{self.name} ({self.address}:{self.port})"
        hops = []
        hop = self.jump
        while hop is not None:
            hops.append(hop.name)
            hop = hop.jump
        if self.proxy_command and not hops:
            hops.append(f"ProxyCommand {self.proxy_command[0]}")
        return text + (f" via {', '.join(reversed(hops))}" if hops else "")


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
