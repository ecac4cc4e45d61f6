"""orch.transport.process: asyncssh's errors never get past RemoteProcess."""

from __future__ import annotations

import asyncio

import pytest

from orch.errors import ChannelLost, Unreachable
from orch.transport import RemoteProcess
from orch.transport.sshlib import asyncssh


class _Broken:
    """Stands in for asyncssh's stream objects on a connection that has just dropped."""

    def __init__(self, error: BaseException):
        self.error = error

    def write(self, data: bytes) -> None:
        raise self.error

    def write_eof(self) -> None:
        raise self.error

    async def readexactly(self, size: int) -> bytes:
        raise self.error

    async def read(self, size: int) -> bytes:
        raise self.error


class _Process:
    exit_status = None
    exit_signal = None

    def __init__(self, error: BaseException):
        self.stdin = self.stdout = self.stderr = _Broken(error)

    async def wait(self) -> None:
        raise self.stdin.error


@pytest.mark.parametrize("error", [asyncssh.ConnectionLost("peer went away"),
                                   asyncssh.ChannelOpenError(2, "refused"),
                                   BrokenPipeError("broken pipe")])
async def test_every_failure_is_channel_lost(error):
    process = RemoteProcess(_Process(error))
    for call in (lambda: process.write(b"x"), process.write_eof):
        with pytest.raises(ChannelLost, match="connection lost: "):
            call()
    for call in (lambda: process.readexactly(4), lambda: process.read_stderr(10), process.wait):
        with pytest.raises(ChannelLost, match="connection lost: "):
            await call()
    assert issubclass(ChannelLost, Unreachable)  # the host is marked unreachable, as before


async def test_a_clean_end_of_output_is_an_incomplete_read():
    process = RemoteProcess(_Process(asyncio.IncompleteReadError(b"ab", 4)))
    with pytest.raises(asyncio.IncompleteReadError):
        await process.readexactly(4)
