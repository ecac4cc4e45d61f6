"""asyncssh, imported once for all of orch, with per-connection savings measured on the lab.

Every module of orch that needs asyncssh imports it from here, so the adjustments below are in
place before the first connection. Each removes work asyncssh's client does on every
connection that a fleet run does not need; together they cut the controller's CPU per host
(bench/REPORT.md, "findings"). They touch asyncssh internals, so they are applied only to the
asyncssh minor release they were checked against (``TUNED_FOR``); on any other release, or
with ``ORCH_SSH_TUNING=0`` in the environment, asyncssh runs exactly as shipped.

- ``sign-first``: public-key auth sends the signed request at once instead of first asking the
  server whether it would accept the key (RFC 4252 §7 allows both). One round trip less per
  host, and sshd reads authorized_keys once instead of twice.
- ``publickey-before-none``: auth starts with ``publickey`` rather than a ``none`` request
  whose only answer is the list of methods; ``none`` is still tried after it, as before.
- ``no-ignore-with-aead``: no empty ``SSH_MSG_IGNORE`` before every packet when the cipher is
  AEAD (AES-GCM, chacha20-poly1305). That padding defends CBC modes; orch prefers AES-GCM.
- ``lazy-packet-log``: a packet's debug line is formatted only at asyncssh debug level 3, the
  only level that prints it (asyncssh formats it for every packet, then drops it).
- importing asyncssh looks for liboqs in the library directories instead of running
  ``ldconfig -p`` and ``gcc`` (``ctypes.util.find_library``), 40 ms of CPU per start.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import glob
import os
import sysconfig
from collections.abc import Iterator

TUNED_FOR = (2, 24)


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
    for directory in _library_dirs():
        base = os.path.join(glob.escape(directory), f"lib{name}.so")
        versioned = glob.glob(base + ".*")
        if versioned:
            return os.path.basename(min(versioned, key=lambda path: (len(path), path)))
        if os.path.exists(base):
            return os.path.basename(base)
    return None


@contextlib.contextmanager
def _quick_find_library() -> Iterator[None]:
    original = ctypes.util.find_library
    ctypes.util.find_library = find_library_in_dirs
    try:
        yield
    finally:
        ctypes.util.find_library = original


with _quick_find_library():
    import asyncssh  # noqa: E402
    from asyncssh import auth as _auth  # noqa: E402
    from asyncssh import connection as _connection  # noqa: E402
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


_TWEAKS = {
    "sign-first": _sign_first,
    "publickey-before-none": _publickey_before_none,
    "no-ignore-with-aead": _no_ignore_with_aead,
    "lazy-packet-log": _lazy_packet_log,
}


def asyncssh_release(version: str) -> tuple[int, int]:
    """``"2.24.1"`` → ``(2, 24)``; ``(0, 0)`` when unreadable."""
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return 0, 0


def _apply() -> tuple[str, ...]:
    if os.environ.get("ORCH_SSH_TUNING", "1") == "0":
        return ()
    if asyncssh_release(asyncssh.__version__) != TUNED_FOR:
        return ()
    applied = []
    for name, tweak in _TWEAKS.items():
        try:
            tweak()
        except AttributeError:
            continue
        applied.append(name)
    return tuple(applied)


APPLIED: tuple[str, ...] = _apply()
"""The adjustments in effect in this process (empty: asyncssh as shipped)."""

__all__ = ["APPLIED", "TUNED_FOR", "asyncssh", "asyncssh_release", "find_library_in_dirs"]
