"""asyncssh, imported once for all of orch, with per-connection savings measured on the lab.

Only ``orch.transport`` imports asyncssh, and it imports it from here, so the adjustments below
are in place before the first connection. Each removes work asyncssh's client does on every
connection that a fleet run does not need (bench/REPORT.md, "asyncssh adjustments", has each
one's measured gain). They touch asyncssh internals, so each applies only to the exact asyncssh
release, and the exact code, it was checked against (``orch.transport.gate``); on any other,
or with ``ORCH_SSH_TUNING=0`` (all) or ``ORCH_SSH_TUNING_OFF=name,...`` (some) in the
environment, asyncssh runs as shipped. ``TUNING`` says, for each, "on" or "off: why";
``APPLIED`` lists those on.

- ``sign-first``: public-key auth sends the signed request at once instead of first asking the
  server whether it would accept the key (RFC 4252 §7 allows both). One round trip less per
  host, and sshd reads authorized_keys once instead of twice.
- ``publickey-before-none``: auth starts with ``publickey`` rather than a ``none`` request
  whose only answer is the list of methods; ``none`` is still tried after it, as before.
  One round trip less per host.
- ``no-ignore-with-aead``: no empty ``SSH_MSG_IGNORE`` before every packet when the cipher is
  AEAD (AES-GCM, chacha20-poly1305). That padding defends CBC modes; orch prefers AES-GCM.
- ``lazy-packet-log``: a packet's debug line is formatted only at asyncssh debug level 3, the
  only level that prints it (asyncssh formats it for every packet, then drops it).
- ``quiet-log``: asyncssh's log calls (about 27 per host) format their arguments only when
  the message would be logged; asyncssh formats them first, then lets logging drop them.
- ``prepared-options``: connection options are prepared once per run and copied for each
  host (``connect``), instead of ``asyncssh.connect`` preparing them again for every host in a
  worker thread. Used only when no OpenSSH config file was loaded, since its ``Host`` blocks
  would need each host's name.
- ``no-x509``: asyncssh is imported without its X.509 certificate support, which loads
  ``cryptography.x509`` at every start. orch authenticates with plain keys and OpenSSH
  certificates; X.509 (RFC 6187) is a PKIX-SSH feature OpenSSH lacks. asyncssh runs as it does
  where ``cryptography.x509`` is missing: it offers no x509v3 algorithms and skips x509v3 lines
  in known_hosts.
- ``quick-find-library``: importing asyncssh looks for liboqs and nettle in the library
  directories instead of running ``ldconfig -p`` and ``gcc`` (``ctypes.util.find_library``)
  at every start.

The last two happen while asyncssh is imported, so they apply only when orch imports it first.
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
from collections.abc import Iterator, Mapping

from orch.transport import gate

IMPORT_TIME = ("no-x509", "quick-find-library")  # decided from asyncssh's files, before import
_FIRST_IMPORT = "asyncssh" not in sys.modules
VERSION = gate.installed_version()
_FILE_DIGESTS = gate.digests(k for name in IMPORT_TIME for k in gate.CHECKED[name])


def _decide_import_time(name: str) -> str:
    if not _FIRST_IMPORT:
        return "off: asyncssh was imported before orch.transport"
    return gate.decide(name, VERSION, _FILE_DIGESTS, os.environ)


TUNING: dict[str, str] = {name: _decide_import_time(name) for name in IMPORT_TIME}


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


if TUNING["no-x509"] == gate.ON:
    sys.modules.setdefault("asyncssh.crypto.x509", None)  # None: "import" raises ImportError

with _quick_find_library() if TUNING["quick-find-library"] == gate.ON else contextlib.nullcontext():
    import asyncssh  # noqa: E402
    from asyncssh import auth as _auth  # noqa: E402
    from asyncssh import connection as _connection  # noqa: E402
    from asyncssh import encryption as _encryption  # noqa: E402
    from asyncssh import logging as _logging  # noqa: E402
    from asyncssh import packet as _packet  # noqa: E402


def _sign_first() -> None:
    cls = _auth._ClientPublicKeyAuth

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
    needs_mac = _encryption.encryption_needs_mac

    def send_packet(self, pkttype: int, *args: bytes, handler=None) -> None:
        if (pkttype == ignore and args == (empty,) and self._send_encryption
                and not needs_mac(self._enc_alg_cs)):
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
    """Nothing to change: ``connect`` calls asyncssh's internal ``_connect`` when this is on."""


_TWEAKS = {
    "sign-first": _sign_first,
    "publickey-before-none": _publickey_before_none,
    "no-ignore-with-aead": _no_ignore_with_aead,
    "lazy-packet-log": _lazy_packet_log,
    "quiet-log": _quiet_log,
    "prepared-options": _prepared_options,
}


DIGESTS: dict[str, str | None] = {
    **_FILE_DIGESTS,
    **gate.digests(k for name in _TWEAKS for k in gate.CHECKED[name])}
"""SHA-256 of the asyncssh code each adjustment depends on, as installed (before any change)."""


def decide(version: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What each run-time adjustment would be on asyncssh ``version`` with ``environ``."""
    return {name: gate.decide(name, version, DIGESTS, environ) for name in _TWEAKS}


def _apply() -> None:
    for name, state in decide(VERSION, os.environ).items():  # asyncssh/version.py's
        if state == gate.ON:
            _TWEAKS[name]()
        TUNING[name] = state


_apply()
APPLIED: tuple[str, ...] = tuple(name for name, state in TUNING.items() if state == gate.ON)
"""The adjustments in effect in this process (empty: asyncssh exactly as shipped)."""


def tuning_report() -> dict[str, str]:
    """Each asyncssh adjustment, ``"on"`` or ``"off: <reason>"`` (for ``RunStarted``)."""
    return dict(TUNING)


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
        self.prepared = (prepared if TUNING["prepared-options"] == gate.ON
                         and not prepared.config.loaded
                         else None)


async def connect(host: str, options: ClientOptions,
                  tunnel: asyncssh.SSHClientConnection | None = None,
                  proxy_command: tuple[str, ...] = (),
                  ) -> asyncssh.SSHClientConnection:
    """Open an authenticated connection to ``host`` (through ``tunnel``, an open connection to
    a jump host, or over the stdin/stdout of ``proxy_command``, a local command run without a
    shell, when given).

    :raises OSError, asyncssh.Error, TimeoutError: as ``asyncssh.connect`` does.
    """
    if options.prepared is None:
        extra: dict = {"tunnel": tunnel} if tunnel is not None else {}
        if proxy_command:
            extra["proxy_command"] = list(proxy_command)
        return await asyncssh.connect(host, **options.kwargs, **extra)
    per_host = copy.copy(options.prepared)  # _connect stores this connection's waiter in it
    per_host.orig_host = per_host.host = host
    if tunnel is not None:
        per_host.tunnel = tunnel
    if proxy_command:
        per_host.proxy_command = list(proxy_command)
    loop = asyncio.get_running_loop()

    def factory() -> asyncssh.SSHClientConnection:
        return _connection.SSHClientConnection(loop, per_host, wait="auth")

    async with asyncio.timeout(per_host.connect_timeout):
        return await _connection._connect(
            per_host, (), loop, 0, None, factory, "Opening SSH connection to")


__all__ = ["APPLIED", "DIGESTS", "TUNING", "VERSION", "asyncssh", "ClientOptions", "connect",
           "decide", "find_library_in_dirs", "tuning_report"]
