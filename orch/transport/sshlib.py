"""asyncssh, imported once for all of orch, with per-connection savings measured on the lab.

Every module of orch that needs asyncssh imports it from here, so the adjustments below are in
place before the first connection. Each removes work asyncssh's client does on every
connection that a fleet run does not need; together they cut the controller's CPU per host
(bench/REPORT.md, "findings"). They touch asyncssh internals, so they are applied only to the
asyncssh minor release they were checked against (``TUNED_FOR``); on any other release only
``no-x509`` applies (it uses asyncssh's own fallback), and with ``ORCH_SSH_TUNING=0`` in the
environment asyncssh runs exactly as shipped.

- ``sign-first``: public-key auth sends the signed request at once instead of first asking the
  server whether it would accept the key (RFC 4252 §7 allows both). One round trip less per
  host, and sshd reads authorized_keys once instead of twice.
- ``publickey-before-none``: auth starts with ``publickey`` rather than a ``none`` request
  whose only answer is the list of methods; ``none`` is still tried after it, as before.
- ``no-ignore-with-aead``: no empty ``SSH_MSG_IGNORE`` before every packet when the cipher is
  AEAD (AES-GCM, chacha20-poly1305). That padding defends CBC modes; orch prefers AES-GCM.
- ``lazy-packet-log``: a packet's debug line is formatted only at asyncssh debug level 3, the
  only level that prints it (asyncssh formats it for every packet, then drops it).
- ``quiet-log``: asyncssh's log calls (about 27 per host) format their arguments only when
  the message would be logged; asyncssh formats them first, then lets logging drop them.
- ``prepared-options``: connection options are prepared once per run and copied for each
  host (``connect``), instead of ``asyncssh.connect`` preparing them again for every host in a
  worker thread: about 0.4 ms of controller CPU per host. Used only when no OpenSSH config
  file was loaded, since its ``Host`` blocks would need each host's name.
- ``no-x509``: asyncssh is imported without its X.509 certificate support, which loads
  ``cryptography.x509`` (about 18 ms of every start). orch authenticates with plain keys and
  OpenSSH certificates; X.509 (RFC 6187) is a PKIX-SSH feature OpenSSH lacks. asyncssh runs
  as it does where ``cryptography.x509`` is missing: it offers no x509v3 algorithms and skips
  x509v3 lines in known_hosts. ``ORCH_SSH_TUNING=0`` brings it back with the rest.
- importing asyncssh looks for liboqs in the library directories instead of running
  ``ldconfig -p`` and ``gcc`` (``ctypes.util.find_library``), 40 ms of CPU per start.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ctypes.util
import functools
import os
import sys
import sysconfig
from collections.abc import Iterator

TUNED_FOR = (2, 24)
_TUNING = os.environ.get("ORCH_SSH_TUNING", "1") != "0"


def _library_dirs() -> list[str]:
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d]
    for base in ("/usr/local/lib", "/usr/lib", "/lib", "/usr/lib64", "/lib64"):
        if multiarch:
            dirs.append(f"{base}/{multiarch}")
        dirs.append(base)
    return dirs


def find_library_in_dirs(name: str) -> str | None:
    """``ctypes.util.find_library`` without subprocesses: the soname ``lib<name>.so.N`` found
    first in the library directories (a bare ``lib<name>.so`` may be a linker script)."""
    base = f"lib{name}.so"
    for directory in _library_dirs():
        names = _listing(directory)
        versioned = [entry for entry in names if entry.startswith(base + ".")]
        if versioned:
            return min(versioned, key=lambda entry: (len(entry), entry))
        if base in names:
            return base
    return None


@functools.cache
def _listing(directory: str) -> frozenset[str]:
    try:
        return frozenset(os.listdir(directory))
    except OSError:
        return frozenset()


@contextlib.contextmanager
def _quick_find_library() -> Iterator[None]:
    original = ctypes.util.find_library
    ctypes.util.find_library = find_library_in_dirs
    try:
        yield
    finally:
        ctypes.util.find_library = original
        _listing.cache_clear()


if _TUNING and "asyncssh" not in sys.modules:
    sys.modules.setdefault("asyncssh.crypto.x509", None)  # None: "import" raises ImportError
_NO_X509 = sys.modules.get("asyncssh.crypto.x509", ()) is None

with _quick_find_library():
    import asyncssh  # noqa: E402
    from asyncssh import auth as _auth  # noqa: E402
    from asyncssh import connection as _connection  # noqa: E402
    from asyncssh import logging as _logging  # noqa: E402
    from asyncssh import packet as _packet  # noqa: E402
    from asyncssh.encryption import encryption_needs_mac as _needs_mac  # noqa: E402


def _sign_first() -> None:
    cls = _auth._ClientPublicKeyAuth
    if not hasattr(cls, "_send_signed_request"):
        raise AttributeError("_ClientPublicKeyAuth._send_signed_request")

    async def _start(self) -> None:
        self._keypair = await self._conn.public_key_auth_requested()
        if self._keypair is None:
            self._conn.try_next_auth(next_method=True)
            return
        await self._send_signed_request()

    cls._start = _start


def _publickey_before_none() -> None:
    cls = _connection.SSHClientConnection
    original = cls.__init__

    def __init__(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        if getattr(self, "_auth_methods", None) == [b"none"]:
            self._auth_methods = [b"publickey", b"none"]

    cls.__init__ = __init__


def _no_ignore_with_aead() -> None:
    cls = _connection.SSHClientConnection
    original = cls.send_packet
    ignore = _connection.MSG_IGNORE
    empty = _packet.String(b"")

    def send_packet(self, pkttype: int, *args: bytes, handler=None) -> None:
        if (pkttype == ignore and args == (empty,) and self._send_encryption
                and not _needs_mac(self._enc_alg_cs)):
            return
        original(self, pkttype, *args, handler=handler)

    cls.send_packet = send_packet


def _lazy_packet_log() -> None:
    cls = _packet.SSHPacketLogger
    original = cls._log_packet

    def _log_packet(self, msg, pkttype, pktid, packet, note) -> None:
        if self.logger._debug_level >= 3:
            original(self, msg, pkttype, pktid, packet, note)

    cls._log_packet = _log_packet


def _quiet_log() -> None:
    cls = _logging.SSHLogger
    original = cls.log

    def log(self, level: int, msg: object, *args, **kwargs) -> None:
        if self.isEnabledFor(level):
            original(self, level, msg, *args, **kwargs)

    cls.log = log


def _prepared_options() -> None:
    # Nothing to patch: ``connect`` calls asyncssh's internal ``_connect`` when this is applied.
    for name in ("_connect", "SSHClientConnection", "SSHClientConnectionOptions"):
        if not hasattr(_connection, name):
            raise AttributeError(name)


_TWEAKS = {
    "sign-first": _sign_first,
    "publickey-before-none": _publickey_before_none,
    "no-ignore-with-aead": _no_ignore_with_aead,
    "lazy-packet-log": _lazy_packet_log,
    "quiet-log": _quiet_log,
    "prepared-options": _prepared_options,
}


def asyncssh_release(version: str) -> tuple[int, int]:
    """``"2.24.1"`` → ``(2, 24)``; ``(0, 0)`` when unreadable."""
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return 0, 0


def _apply() -> tuple[str, ...]:
    applied = ["no-x509"] if _NO_X509 else []
    if not _TUNING or asyncssh_release(asyncssh.__version__) != TUNED_FOR:
        return tuple(applied)
    for name, tweak in _TWEAKS.items():
        try:
            tweak()
        except AttributeError:
            continue
        applied.append(name)
    return tuple(applied)


APPLIED: tuple[str, ...] = _apply()
"""The adjustments in effect in this process (empty: asyncssh exactly as shipped)."""


class ClientOptions:
    """Connection settings that many hosts share (asyncssh ``connect`` keywords, no host).

    With ``prepared-options`` they are turned into asyncssh's options object once, here. An
    OpenSSH config file with ``Host`` blocks needs each host's name, so when one was loaded
    every connection prepares its own, as ``asyncssh.connect`` does.

    :raises ValueError, OSError, asyncssh.Error: a setting asyncssh rejects.
    """

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        prepared = asyncssh.SSHClientConnectionOptions(**kwargs)
        self.prepared = (prepared if "prepared-options" in APPLIED and not prepared.config.loaded
                         else None)


async def connect(host: str, options: ClientOptions) -> asyncssh.SSHClientConnection:
    """Open an authenticated connection to ``host``.

    :raises OSError, asyncssh.Error, TimeoutError: as ``asyncssh.connect`` does.
    """
    if options.prepared is None:
        return await asyncssh.connect(host, **options.kwargs)
    per_host = copy.copy(options.prepared)  # _connect stores this connection's waiter in it
    per_host.orig_host = per_host.host = host
    loop = asyncio.get_running_loop()

    def factory() -> asyncssh.SSHClientConnection:
        return _connection.SSHClientConnection(loop, per_host, wait="auth")

    async with asyncio.timeout(per_host.connect_timeout):
        return await _connection._connect(
            per_host, (), loop, 0, None, factory, "Opening SSH connection to")


__all__ = ["APPLIED", "TUNED_FOR", "asyncssh", "asyncssh_release", "ClientOptions", "connect",
           "find_library_in_dirs"]
