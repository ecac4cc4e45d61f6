"""Run locks: one run changes a host at a time, whichever controller started it.

A lock names its run and its owner (``machine:pid``). A lock whose owner is a process of this
machine that no longer exists is stale (a controller killed half way) and is taken over; a
lock held by another machine's controller is trusted until that run releases it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from orch.errors import OrchError


class HostsLocked(OrchError):
    """Another run is changing some of these hosts: this run stops before touching them."""


@dataclass(frozen=True)
class Holder:
    host: str
    run_id: str
    owner: str  # "machine:pid"


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str) -> bool:
    """Whether the controller process named by ``owner`` may still run."""
    machine, _, pid = owner.rpartition(":")
    if machine != socket.gethostname() or not pid.isdigit():
        return True  # another machine's controller: trust its lock
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def refuse(holders: list[Holder]) -> HostsLocked:
    """The error naming who holds what: ``dev4, dev5 are being changed by run …``."""
    by_run: dict[str, list[str]] = {}
    for holder in holders:
        by_run.setdefault(holder.run_id, []).append(holder.host)
    parts = [f"{', '.join(sorted(hosts))} by run {run_id}" for run_id, hosts in by_run.items()]
    return HostsLocked("hosts are being changed by another run: " + "; ".join(parts)
                       + " (see 'orch runs RUN_ID')")
