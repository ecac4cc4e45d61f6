"""One host's runtime: a ``python3`` started on first use, serving framed requests.

The first request starts the remote interpreter with the bootstrap command, sends it the
runtime, waits for its ``hello``, then sends each module once (by content hash) before the
first request that needs it. Requests on one host run one at a time.
"""

from __future__ import annotations

import asyncio
import functools
import struct

from orch.errors import ChannelLost, RequestTimeout, Unreachable
from orch.rpc.become import Become, escalate, escalate_tty, needs_tty
from orch.runtime.core import EXIT_FRAME, FRAME_HEADER, FRAME_MAX, decode_frame_body, module_frame
from orch.runtime.core import encode_frame as pack_frame
from orch.transport import Connection, RemoteProcess

_LENGTH = struct.Struct(FRAME_HEADER)
REPLY_MARGIN = 5.0  # the host enforces the request timeout itself; wait a little longer


@functools.lru_cache(maxsize=64)
def _module_frame(name: str, digest: str, source: bytes) -> bytes:
    """A module's frame, encoded once per run rather than once per host."""
    return pack_frame(module_frame(name, digest, source.decode("utf-8")))


class HostChannel:
    """The remote runtime on one host, for the life of the run."""

    def __init__(self, connection: Connection, command: str, payload: bytes, *,
                 become: Become | None = None, prompt: str = "", password: str | None = None):
        self.connection = connection
        self._command = command
        self._payload = payload
        self._become = become
        self._prompt = prompt
        self._password = password
        self._process: RemoteProcess | None = None
        self._sent_modules: set[str] = set()
        self._said = ""  # a dying runtime's last words on a terminal (bootstrap.TTY_TAIL)
        self._lock = asyncio.Lock()
        self.hello: dict = {}

    async def _start(self, timeout: float, first_frames: bytes) -> None:
        """Start the runtime and send ``first_frames`` right behind it, then wait for hello.

        One write instead of a round trip: the first stage reads exactly the runtime's bytes,
        so the frames that follow wait in the pipe until the runtime serves them.
        """
        tty = needs_tty(self._become, self._password)
        process = await (self.connection.start_process(self._command, tty=True) if tty
                         else self.connection.start_process(self._command))
        self._process = process
        if tty:  # su, doas: the password on a terminal, then the first stage makes it raw
            assert self._become is not None and self._password is not None
            await escalate_tty(process, self._become, self._password, timeout)
        elif self._become is not None:  # one round trip more: sudo must let the runtime start
            await escalate(process, self._become, self._prompt, self._password, timeout)
        process.write(self._payload + first_frames)
        self.hello = await self._read(timeout)
        if self.hello.get("kind") != "hello":
            raise Unreachable(f"remote runtime did not start: {self.hello!r:.200}")

    async def _read(self, timeout: float) -> dict:
        assert self._process is not None
        process = self._process
        try:
            async with asyncio.timeout(timeout):  # one deadline for the frame, no extra task
                header = await process.readexactly(_LENGTH.size)
                (length,) = _LENGTH.unpack(header)
                if length > FRAME_MAX:
                    raise Unreachable(f"reply frame too large ({length} bytes)")
                body = await process.readexactly(length)
        except asyncio.IncompleteReadError:
            raise ChannelLost(await self._exit_reason()) from None
        except TimeoutError:
            raise RequestTimeout(f"no reply within {timeout:g}s") from None
        try:
            message = decode_frame_body(body)
        except ValueError as error:
            raise Unreachable(f"garbled reply frame: {error}") from None
        if message.get("kind") == "stderr":  # on a terminal: the runtime's last words
            self._said = str(message.get("text", ""))
            return await self._read(timeout)
        return message

    async def _exit_reason(self) -> str:
        process = self._process
        detail = ""
        if process is not None:
            try:
                err = await asyncio.wait_for(process.read_stderr(4096), 1)
                detail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else ""
                detail = detail[0] if detail else ""
            except (TimeoutError, ChannelLost):
                detail = ""
            detail = detail or self._said
            status = process.exit_status
            signal = process.exit_signal
            if signal:
                return f"remote runtime killed by signal {signal[0]}{': ' + detail if detail else ''}"
            if status is not None:
                return f"remote runtime exited with status {status}{': ' + detail if detail else ''}"
        return "connection lost during the request" + (f": {detail}" if detail else "")

    async def request(self, message: dict, modules: list[tuple[str, str, bytes]],
                      timeout: float) -> dict:
        """Send one request (and any module not yet sent) and return its reply frame.

        ``modules`` is ``[(name, hash, source)]``. On timeout the remote process is closed, so
        the next request starts a fresh one rather than reading a stale reply.
        """
        async with self._lock:
            try:
                starting = self._process is None
                if starting:
                    self._sent_modules = set()
                frames = b""
                for name, digest, source in modules:
                    if digest not in self._sent_modules:
                        frames += _module_frame(name, digest, source)
                        self._sent_modules.add(digest)
                frames += pack_frame(message)
                if starting:
                    await self._start(timeout, frames)
                else:
                    assert self._process is not None
                    self._process.write(frames)
                while True:
                    reply = await self._read(timeout + REPLY_MARGIN)
                    if reply.get("kind") == "reply" and reply.get("reqid") == message["reqid"]:
                        return reply
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        process = self._process
        self._process = None
        if process is not None:
            try:
                process.write(pack_frame(EXIT_FRAME))
                process.write_eof()
            except ChannelLost:
                pass
            process.close()
