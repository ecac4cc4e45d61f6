"""One SSH connection per host per run, opened on first use and kept until the run ends."""

from __future__ import annotations

import asyncio
import os

from orch.errors import ChannelLost, HostKeyRejected, Unreachable
from orch.transport import sshlib
from orch.transport.known_hosts import KnownHosts
from orch.transport.options import Target, TransportOptions
from orch.transport.process import RemoteProcess
from orch.transport.sshlib import asyncssh

# Algorithm preferences, measured on the 200-host lab (bench/REPORT.md). asyncssh's default
# cipher, chacha20-poly1305, builds two new cipher contexts per packet in Python and cost about a
# quarter of the controller's CPU; AES-GCM keeps one OpenSSL context per direction. curve25519 is
# the cheapest key exchange both sides offer. Every other default algorithm stays allowed, after
# these, so a host that lacks them still connects. Fleet payloads are small: no compression.
# ("^a,b" is OpenSSH's "put these first" syntax, which asyncssh understands.)
KEX_ALGS = "^curve25519-sha256,curve25519-sha256@libssh.org"
ENCRYPTION_ALGS = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"
COMPRESSION_ALGS = "none"


class Connection:
    """An open SSH connection to one host; starts processes on it."""

    def __init__(self, target: Target, ssh: asyncssh.SSHClientConnection):
        self.target = target
        self._ssh = ssh

    async def start_process(self, command: str) -> RemoteProcess:
        """Start ``command`` (a fixed string orch owns, never user data) with binary pipes.

        :raises ChannelLost: the connection dropped.
        :raises Unreachable: the host refused to open a session channel.
        """
        try:
            return RemoteProcess(await self._ssh.create_process(command, encoding=None))
        except (OSError, asyncssh.DisconnectError) as error:
            raise ChannelLost(f"cannot start a process: {_reason(error)}") from None
        except asyncssh.Error as error:
            lost = self._ssh.is_closed()  # asyncssh says "channel open failed" for this too
            raise (ChannelLost if lost else Unreachable)(
                f"cannot start a process: {_reason(error)}") from None

    @property
    def peer_address(self) -> str:
        """The address the connection actually reached (after any OpenSSH config alias)."""
        peer = self._ssh.get_extra_info("peername")
        return str(peer[0]) if peer else ""

    def close(self) -> None:
        self._ssh.close()

    async def wait_closed(self) -> None:
        await self._ssh.wait_closed()


class Pool:
    """Opens and caches connections; ``async with Pool(options)`` closes them all at the end."""

    def __init__(self, options: TransportOptions):
        self.options = options
        self.known_hosts = KnownHosts(options.known_hosts)
        self._connections: dict[str, Connection] = {}
        self._pending: dict[str, asyncio.Future] = {}
        self._keys: dict[str, list] = {}
        self._prepared: dict[tuple, sshlib.ClientOptions] = {}
        self._closing: list[Connection] = []

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self, target: Target) -> Connection:
        """The run's connection to ``target``, opened on first call.

        :raises HostKeyRejected: the key is unknown (strict policy) or changed; nothing was sent.
        :raises Unreachable: refused, timed out, or authentication failed.
        """
        existing = self._connections.get(target.name)
        if existing is not None:
            return existing
        pending = self._pending.get(target.name)
        if pending is None:
            pending = asyncio.ensure_future(self._open(target))
            self._pending[target.name] = pending
        try:
            connection = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending.pop(target.name, None)
        self._connections[target.name] = connection
        return connection

    def forget(self, name: str) -> None:
        """Close and drop ``name``'s connection: it died, or the run needs nothing more of it.

        The next ``connect`` opens a new one; ``close`` still waits for this one to finish.
        """
        connection = self._connections.pop(name, None)
        if connection is not None:
            connection.close()
            self._closing.append(connection)

    async def close(self) -> None:
        open_ones = list(self._connections.values())
        connections = open_ones + self._closing  # those that forget() closed already
        self._connections.clear()
        self._closing = []
        for connection in open_ones:
            connection.close()
        await asyncio.gather(*(c.wait_closed() for c in connections), return_exceptions=True)

    def _client_keys(self, target: Target) -> list | None:
        if not target.key:
            return None
        path = os.path.expanduser(target.key)
        if path not in self._keys:
            try:
                self._keys[path] = [asyncssh.read_private_key(path)]
            except (OSError, asyncssh.KeyImportError) as error:
                raise Unreachable(f"cannot read SSH key {path}: {_reason(error)}") from None
        return self._keys[path]

    def _client_options(self, target: Target, accept_new: bool) -> sshlib.ClientOptions:
        """The asyncssh options for ``target``, prepared once for every host that shares them."""
        key = (target.port, target.user, target.key, accept_new)
        prepared = self._prepared.get(key)
        if prepared is None:
            options = self.options
            kwargs = dict(
                port=target.port,
                username=target.user or (),  # () = asyncssh's default (local user)
                known_hosts=None if accept_new else self.known_hosts.trusted,
                connect_timeout=options.connect_timeout,
                login_timeout=options.connect_timeout,
                keepalive_interval=options.keepalive_interval,
                keepalive_count_max=3,
                agent_path=None,
                config=(),
                kex_algs=KEX_ALGS,
                encryption_algs=ENCRYPTION_ALGS,
                compression_algs=COMPRESSION_ALGS,
            )
            keys = self._client_keys(target)
            if keys is not None:
                kwargs["client_keys"] = keys
            try:
                prepared = sshlib.ClientOptions(**kwargs)
            except (OSError, ValueError, asyncssh.Error) as error:
                raise Unreachable(f"bad SSH settings: {_reason(error)}") from None
            self._prepared[key] = prepared
        return prepared

    async def _open(self, target: Target) -> Connection:
        options = self.options
        known = self.known_hosts
        accept_new = options.host_key_policy == "accept-new" and not known.has_entry(
            target.address, target.port)
        prepared = self._client_options(target, accept_new)
        try:
            async with asyncio.timeout(options.connect_timeout + 1):
                ssh = await sshlib.connect(target.address, prepared)
        except asyncssh.HostKeyNotVerifiable:
            if known.has_entry(target.address, target.port):
                raise HostKeyRejected(
                    f"host key for {target.address}:{target.port} does not match known_hosts "
                    f"({known.path}): refusing to connect (possible man-in-the-middle); "
                    f"nothing was sent") from None
            raise HostKeyRejected(
                f"unknown host key for {target.address}:{target.port}: not in {known.path}; "
                f"nothing was sent (use --accept-new to trust first-seen keys)") from None
        except asyncssh.PermissionDenied as error:
            raise Unreachable(f"authentication failed as {target.user or 'default user'}: "
                              f"{_reason(error)}") from None
        except (TimeoutError, OSError, asyncssh.Error) as error:
            raise Unreachable(_reason(error)) from None
        if accept_new:
            key = ssh.get_server_host_key()
            if key is not None:
                await known.record(target.address, target.port, key)
        return Connection(target, ssh)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "connection timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, asyncssh.Error):
        return error.reason or type(error).__name__
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
