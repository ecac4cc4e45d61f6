"""known_hosts checking, and recording first-seen keys safely under ``--accept-new``.

The file is parsed once per run (asyncssh would re-read it for every connection, which is
quadratic over a fleet). New keys are appended one whole line per write under an fcntl lock,
so hundreds of hosts connecting at once, or two controllers, never interleave lines.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from orch.transport.sshlib import asyncssh


def _entry_host(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


class KnownHosts:
    """The run's view of known_hosts: what is trusted, and where new keys are written."""

    def __init__(self, path: str):
        self.path = Path(os.path.expanduser(path))
        self._lock = asyncio.Lock()
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        self._known = asyncssh.import_known_hosts(text)

    def has_entry(self, address: str, port: int) -> bool:
        """True when some key (trusted or revoked) is recorded for this host."""
        host_keys, ca_keys, revoked, *_ = self._known.match(address, address, port)
        return bool(host_keys or ca_keys or revoked)

    @property
    def trusted(self) -> asyncssh.SSHKnownHosts:
        return self._known

    async def record(self, address: str, port: int, key: asyncssh.SSHKey) -> None:
        """Append ``[addr]:port key`` to the file as one whole line under an exclusive lock."""
        line = f"{_entry_host(address, port)} {key.export_public_key().decode().strip()}\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as stream:
            fcntl.flock(stream, fcntl.LOCK_EX)
            try:
                stream.write(line)
                stream.flush()
            finally:
                fcntl.flock(stream, fcntl.LOCK_UN)
