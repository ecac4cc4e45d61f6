"""Reaching hosts over SSH: one asyncssh connection per host per run, host keys checked.

Transport knows hosts and bytes, not plays: it takes a ``Target`` and ``TransportOptions`` and
hands back a connection that starts a ``RemoteProcess``. It never imports inventory, play or
output, and it is the only part of orch that imports asyncssh: what it hands out, and the
errors it raises (``Unreachable``, ``HostKeyRejected``, ``ChannelLost``), are orch's own.
``tuning_report()`` says which asyncssh adjustments are in effect.

The names below load on first use, so ``orch.transport.gate`` can be imported (and examined)
without importing asyncssh.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orch.transport.options import Target, TransportOptions
    from orch.transport.pool import Connection, Pool
    from orch.transport.process import RemoteProcess
    from orch.transport.sshlib import tuning_report

_HOMES = {"Connection": "pool", "Pool": "pool", "RemoteProcess": "process", "Target": "options",
          "TransportOptions": "options", "tuning_report": "sshlib"}

__all__ = ["Connection", "Pool", "RemoteProcess", "Target", "TransportOptions", "tuning_report"]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
