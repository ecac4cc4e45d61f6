"""One SSH connection per host per run, opened on first use and kept until the run ends."""

from __future__ import annotations

import asyncio
import errno
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

    async def start_process(self, command: str, tty: bool = False) -> RemoteProcess:
        """Start ``command`` (a fixed string orch owns, never user data) with binary pipes,
        or, with ``tty``, on a pseudo-terminal (one output stream; for su and doas, which read a
        password from a terminal only; the command must make it raw before binary data).

        :raises ChannelLost: the connection dropped.
        :raises Unreachable: the host refused to open a session channel.
        """
        terminal = {"term_type": "dumb"} if tty else {}
        try:
            return RemoteProcess(await self._ssh.create_process(command, encoding=None,
                                                                **terminal))
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


#: Passphrase prompts per key file per run, as OpenSSH's NumberOfPasswordPrompts default.
PASSPHRASE_TRIES = 3


class Pool:
    """Opens and caches connections; ``async with Pool(options)`` closes them all at the end.

    Hosts that share their resolved settings (port, user, keys, known_hosts, jump host …) share
    one set of prepared asyncssh options. Each jump host is connected once per run, with its
    own host-key check, and carries every target behind it; the ssh-agent is asked for its keys
    once per run, over one agent connection, and key files are read once.
    """

    #: Asked for a key file's passphrase, once per file per run: ``prompt(path) -> str``. The
    #: CLI may set it; by default it asks on the terminal, and without one the key is refused
    #: with a message saying to load it into ssh-agent.
    passphrase_prompt = None

    def __init__(self, options: TransportOptions):
        self.options = options
        self.known_hosts = KnownHosts(options.known_hosts)
        self._known: dict[tuple, KnownHosts] = {((options.known_hosts,), ()): self.known_hosts}
        self._connections: dict[str, Connection] = {}
        self._jumps: dict[Target, Connection] = {}
        self._pending: dict[object, asyncio.Future] = {}
        self._keys: dict[str, list | Unreachable] = {}
        self._agents: dict[str, asyncio.Future] = {}
        self._prepared: dict[tuple, tuple[sshlib.ClientOptions, str]] = {}
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
        connection = await self._shared(target.name, target)
        self._connections[target.name] = connection
        return connection

    async def _shared(self, key: object, target: Target) -> Connection:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._open(target))
            self._pending[key] = pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending.pop(key, None)

    async def _jump(self, hop: Target) -> Connection:
        existing = self._jumps.get(hop)
        if existing is not None and not existing._ssh.is_closed():
            return existing
        connection = await self._shared(("jump", hop), hop)
        self._jumps[hop] = connection
        return connection

    def forget(self, name: str) -> None:
        """Close and drop ``name``'s connection: it died, or the run needs nothing more of it.

        The next ``connect`` opens a new one; ``close`` still waits for this one to finish.
        Jump hosts stay open for the other hosts behind them.
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
        jumps = list(self._jumps.values())  # after the targets whose tunnels they carry
        self._jumps.clear()
        for connection in jumps:
            connection.close()
        await asyncio.gather(*(c.wait_closed() for c in jumps), return_exceptions=True)
        for agent in self._agents.values():
            if agent.done() and not agent.cancelled() and agent.result()[0] is not None:
                agent.result()[0].close()
        self._agents.clear()

    def _known_of(self, target: Target) -> KnownHosts:
        key = (target.known_hosts or (self.options.known_hosts,), target.global_known_hosts)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = KnownHosts(*key)
        return known

    async def _agent_keys(self, path: str) -> list:
        """The agent's keys, asked for once per run (one agent connection for every host)."""
        if not path:
            return []
        future = self._agents.get(path)
        if future is None:
            future = self._agents[path] = asyncio.ensure_future(self._list_agent(path))
        return (await asyncio.shield(future))[1]

    @staticmethod
    async def _list_agent(path: str) -> tuple:
        try:
            agent = await asyncssh.connect_agent(path)
        except (OSError, asyncssh.Error):
            return None, []  # as OpenSSH: an agent that is not there offers no keys
        if agent is None:
            return None, []
        try:
            return agent, list(await agent.get_keys())
        except (OSError, asyncssh.Error):
            agent.close()
            return None, []

    def _file_keys(self, target: Target) -> list[tuple[str, list]]:
        """Each key file of ``target`` that exists, read once per run: (shown path, keys)."""
        found = []
        for path, source in target.identities or ((target.key, "inventory"),) * bool(target.key):
            path = os.path.expanduser(path)
            if path not in self._keys:
                try:
                    self._keys[path] = self._read_key(path, source)
                except Unreachable as error:  # every host using this file fails the same way,
                    self._keys[path] = error  # without asking for its passphrase again
            if isinstance(self._keys[path], Unreachable):
                raise Unreachable(str(self._keys[path]))
            if self._keys[path]:
                found.append((_shown(path), self._keys[path]))
        return found

    def _read_key(self, path: str, source: str) -> list:
        try:
            return [asyncssh.read_private_key(path)]
        except FileNotFoundError:
            if source in ("default", "ssh_config"):
                return []  # as OpenSSH: a default or configured file that is not there is skipped
            raise Unreachable(f"cannot read SSH key {path} ({source}): no such file") from None
        except asyncssh.KeyImportError as error:
            if "assphrase" not in str(error):
                raise Unreachable(f"cannot read SSH key {path}: {_reason(error)}") from None
        except OSError as error:
            raise Unreachable(f"cannot read SSH key {path}: {_reason(error)}") from None
        reason = ""
        for _ in range(PASSPHRASE_TRIES):  # as ssh: asked again after a wrong one, three times
            passphrase = self._ask_passphrase(path)
            try:
                return [asyncssh.read_private_key(path, passphrase)]
            except (OSError, ValueError, asyncssh.Error) as error:
                reason = _reason(error)
                if "ncorrect passphrase" not in str(error):
                    break
        raise Unreachable(f"cannot read SSH key {path}: {reason}")

    def _ask_passphrase(self, path: str) -> str:
        prompt = type(self).passphrase_prompt
        if prompt is not None:
            return prompt(path)
        try:  # getpass reads from /dev/tty too, but falls back to stdin without one
            os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
        except OSError:
            raise Unreachable(
                f"SSH key {_shown(path)} is protected by a passphrase and there is no terminal "
                f"to ask for it: add it to ssh-agent (ssh-add {_shown(path)})") from None
        import getpass

        return getpass.getpass(f"Enter passphrase for key '{_shown(path)}': ")

    async def _client_options(self, target: Target, known: KnownHosts,
                              accept_new: bool) -> tuple[sshlib.ClientOptions, str]:
        """The asyncssh options for ``target``, prepared once for every host that shares them,
        and the key sources they try (for messages)."""
        timeout = target.connect_timeout or self.options.connect_timeout
        keepalive = target.keepalive_interval or self.options.keepalive_interval
        agent = "" if target.identities_only else target.agent
        key = (target.port, target.user, target.identities, target.key, agent, id(known),
               accept_new, timeout, keepalive, target.host_key_alias)
        found = self._prepared.get(key)
        if found is not None:
            return found
        agent_keys = await self._agent_keys(agent)
        files = self._file_keys(target)
        found = self._prepared.get(key)  # another host prepared them meanwhile
        if found is not None:
            return found
        tried = ([f"agent ({len(agent_keys)} key{'s' * (len(agent_keys) != 1)})"] if agent
                 else []) + [shown for shown, _ in files]
        keys = list(agent_keys) + [k for _, loaded in files for k in loaded]
        kwargs = dict(
            port=target.port,
            username=target.user or (),  # () = asyncssh's default (local user)
            known_hosts=None if accept_new else known.trusted,
            connect_timeout=timeout,
            login_timeout=timeout,
            keepalive_interval=keepalive,
            keepalive_count_max=3,
            agent_path=None,
            client_keys=keys or None,
            config=(),
            kex_algs=KEX_ALGS,
            encryption_algs=ENCRYPTION_ALGS,
            compression_algs=COMPRESSION_ALGS,
        )
        if target.host_key_alias:
            kwargs["host_key_alias"] = target.host_key_alias
        try:
            prepared = sshlib.ClientOptions(**kwargs)
        except (OSError, ValueError, asyncssh.Error) as error:
            raise Unreachable(f"bad SSH settings: {_reason(error)}") from None
        found = self._prepared[key] = (prepared, ", ".join(tried) or "no keys")
        return found

    async def _open(self, target: Target) -> Connection:
        tunnel = None
        if target.jump is not None:
            try:
                tunnel = (await self._jump(target.jump))._ssh
            except (Unreachable, HostKeyRejected) as error:
                raise type(error)(f"via bastion {target.jump.name}: {error}") from None
        known = self._known_of(target)
        name = target.key_name
        policy = ("accept-new" if "accept-new" in (self.options.host_key_policy,
                                                    target.host_key_policy) else "strict")
        accept_new = policy == "accept-new" and not known.has_entry(name, target.port)
        prepared, tried = await self._client_options(target, known, accept_new)
        timeout = target.connect_timeout or self.options.connect_timeout
        try:
            async with asyncio.timeout(timeout + 1):
                ssh = await sshlib.connect(target.address, prepared, tunnel,
                                           target.proxy_command)
        except asyncssh.HostKeyNotVerifiable:
            shown = name if target.port == 22 else f"[{name}]:{target.port}"
            offending = known.offending(name, target.port)
            if offending is not None:
                path, line, kind = offending
                raise HostKeyRejected(
                    f"REMOTE HOST IDENTIFICATION HAS CHANGED for {target.where}: the host key "
                    f"it sent does not match known_hosts (offending {_key_type(kind)} key for "
                    f"{shown} in {_shown(path)}:{line}); possible man-in-the-middle: host key "
                    f"verification failed, nothing was sent"
                ) from None
            raise HostKeyRejected(
                f"unknown host key for {target.where}: no entry for {shown} in "
                f"{', '.join(_shown(str(p)) for p in known.paths)}; host key verification "
                f"failed, nothing was sent (use --accept-new to trust first-seen keys)") from None
        except asyncssh.PermissionDenied:
            raise Unreachable(f"authentication failed as {target.where}: tried {tried}") from None
        except (TimeoutError, OSError, asyncssh.Error) as error:
            if target.proxy_command and isinstance(error, OSError) and error.filename is None \
                    and error.errno in (errno.ENOENT, errno.EACCES):
                raise Unreachable(f"ProxyCommand cannot start {target.proxy_command[0]}: "
                                  f"{error.strerror} ({target.where})") from None
            raise Unreachable(f"{_reason(error)} ({target.where})") from None
        if accept_new:
            key = ssh.get_server_host_key()
            if key is not None:
                await known.record(name, target.port, key)
        return Connection(target, ssh)


def _key_type(kind: str) -> str:
    """OpenSSH's name of a key type in messages: ED25519, ECDSA, RSA."""
    kind = kind.removeprefix("ssh-").split("-")[0].split("@")[0]
    return {"ecdsa": "ECDSA", "ed25519": "ED25519", "rsa": "RSA", "dss": "DSA"}.get(kind,
                                                                                  kind.upper())


def _shown(path: str) -> str:
    home = os.environ.get("HOME") or os.path.expanduser("~")
    return "~" + path[len(home):] if home and path.startswith(home.rstrip("/") + "/") else path


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "connection timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, asyncssh.Error):
        return error.reason or type(error).__name__
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
