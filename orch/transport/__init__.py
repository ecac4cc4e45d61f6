"""Reaching hosts over SSH: one asyncssh connection per host per run, host keys checked.

Transport knows hosts and bytes, not plays: it takes a ``Target`` and ``TransportOptions`` and
hands back a connection that starts a process. It never imports inventory, play or output.
"""

from orch.transport.options import Target, TransportOptions
from orch.transport.pool import Connection, Pool


def tuning_report() -> dict[str, str]:
    """Each asyncssh adjustment → "on" or "off" (for RunStarted and --json)."""
    from orch.transport import sshlib

    return {name: "on" if name in sshlib.APPLIED else "off"
            for name in (*sshlib._TWEAKS, "no-x509")}


__all__ = ["Connection", "Pool", "Target", "TransportOptions", "tuning_report"]
