"""A process started on a host, as orch sees it: bytes in, bytes out, an exit reason.

``Connection.start_process`` hands out a ``RemoteProcess`` so that nothing above transport
depends on asyncssh's process, stream or error types. Every asyncssh error and ``OSError``
raised while using the process becomes ``ChannelLost``; a clean end of output before the
bytes asked for is ``asyncio.IncompleteReadError``, as from any asyncio stream.
"""

from __future__ import annotations

import asyncio

from orch.errors import ChannelLost
from orch.transport.sshlib import asyncssh

_FAILURES = (OSError, asyncssh.Error)


def _lost(error: BaseException) -> ChannelLost:
    reason = getattr(error, "reason", "") or str(error) or type(error).__name__
    return ChannelLost(f"connection lost: {reason.splitlines()[0]}")


class RemoteProcess:
    """One remote command with binary stdin, stdout and stderr."""

    def __init__(self, process: asyncssh.SSHClientProcess):
        self._process = process

    def write(self, data: bytes) -> None:
        """Queue ``data`` on the process's stdin (buffered; never blocks).

        :raises ChannelLost: the channel is closed or the connection dropped.
        """
        try:
            self._process.stdin.write(data)
        except _FAILURES as error:
            raise _lost(error) from None

    def write_eof(self) -> None:
        """Close the process's stdin after what was written.

        :raises ChannelLost: the channel is closed or the connection dropped.
        """
        try:
            self._process.stdin.write_eof()
        except _FAILURES as error:
            raise _lost(error) from None

    async def readexactly(self, size: int) -> bytes:
        """Exactly ``size`` bytes of stdout.

        :raises asyncio.IncompleteReadError: stdout ended first (the process exited).
        :raises ChannelLost: the connection dropped.
        """
        try:
            return await self._process.stdout.readexactly(size)
        except asyncio.IncompleteReadError:
            raise
        except _FAILURES as error:
            raise _lost(error) from None

    async def read(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of stdout, as soon as any arrive (b"" once it has ended).

        :raises ChannelLost: the connection dropped.
        """
        try:
            return await self._process.stdout.read(limit)
        except _FAILURES as error:
            raise _lost(error) from None

    async def read_stderr(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of what the process wrote to stderr (b"" once it has ended).

        :raises ChannelLost: the connection dropped.
        """
        try:
            return await self._process.stderr.read(limit)
        except _FAILURES as error:
            raise _lost(error) from None

    async def wait(self) -> int | None:
        """Wait for the process to exit; its exit status (None when killed by a signal).

        :raises ChannelLost: the connection dropped first.
        """
        try:
            await self._process.wait()
        except _FAILURES as error:
            raise _lost(error) from None
        return self.exit_status

    @property
    def exit_status(self) -> int | None:
        """The exit status once the host reported it, else None."""
        return self._process.exit_status

    @property
    def exit_signal(self) -> tuple[str, bool, str, str] | None:
        """``(signal name, core dumped, message, language)`` when killed by a signal."""
        return self._process.exit_signal

    def close(self) -> None:
        """Close the channel (the remote process gets EOF and SIGHUP from sshd)."""
        self._process.close()
