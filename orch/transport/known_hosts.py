"""known_hosts checking, and recording first-seen keys safely under ``--accept-new``.

The file is parsed once per run (asyncssh would re-read it for every connection, which is
quadratic over a fleet), and only when it is a regular file of at most ``MAX_SIZE`` bytes: a
FIFO would hang the run and a device such as /dev/zero would fill memory. New keys are
appended one whole line per write under an fcntl lock, so hundreds of hosts connecting at
once, or several controllers, never interleave lines; under that lock the lines other
controllers appended since are read first, so a key one of them already recorded is not
written twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import os
import stat
from pathlib import Path

from orch.errors import InputError, Where
from orch.transport.sshlib import asyncssh

MAX_SIZE = 16 * 1024 * 1024  # bytes; OpenSSH's own known_hosts of 100,000 hosts is ~10 MiB


def _entry_host(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _entries(text: str) -> set[tuple[str, str, str]]:
    """``(hosts, key type, key data)`` of each plain line (markers and comments skipped)."""
    found = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not fields[0].startswith(("#", "@")):
            found.add((fields[0], fields[1], fields[2]))
    return found


def _bad_file(path: Path, problem: str) -> InputError:
    return InputError(f"known_hosts {problem}", Where(file=str(path)))


def _read_capped(path: Path) -> str:
    """The file's text; "" when it does not exist.

    :raises InputError: not a regular file, larger than ``MAX_SIZE``, unreadable or not UTF-8.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return ""
    except OSError as error:
        raise _bad_file(path, f"cannot be read: {error.strerror or error}") from None
    with open(fd, "rb") as stream:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _bad_file(path, "is not a regular file")
        if info.st_size > MAX_SIZE:
            raise _bad_file(path, f"is larger than {MAX_SIZE // (1024 * 1024)} MiB")
        data = stream.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise _bad_file(path, f"is larger than {MAX_SIZE // (1024 * 1024)} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _bad_file(path, f"is not UTF-8 text (byte {error.start})") from None


class KnownHosts:
    """The run's view of known_hosts: what is trusted, and where new keys are written.

    :raises InputError: the file is not a regular file, too large, unreadable or malformed.
    """

    def __init__(self, path: str | tuple[str, ...], global_paths: tuple[str, ...] = ()):
        paths = (path,) if isinstance(path, str) else tuple(path)
        self.path = Path(os.path.expanduser(paths[0]))  # where new keys are recorded
        self.paths = [Path(os.path.expanduser(p)) for p in paths + tuple(global_paths)]
        self._lock = asyncio.Lock()
        texts = [_read_capped(p) for p in self.paths]
        try:
            self._known = asyncssh.import_known_hosts("\n".join(texts))
        except (ValueError, asyncssh.Error) as error:
            raise _bad_file(self.path, f"is malformed: {error}") from None
        self._texts = texts
        text = texts[0]
        self._recorded = _entries(text)  # lines in the file, as far as this run has read it
        self._read_up_to = len(text.encode("utf-8"))

    def offending(self, host: str, port: int) -> tuple[str, int, str] | None:
        """``(file, line, key type)`` of the first entry recorded for ``host`` on ``port``, as
        OpenSSH names it when the key changed (hashed entries too). Slow: for messages."""
        address = host if _is_ip(host) else ""
        for path, text in zip(self.paths, self._texts, strict=True):
            for number, line in enumerate(text.splitlines(), 1):
                fields = line.split()
                if len(fields) < 3 or fields[0].startswith("#"):
                    continue
                try:
                    one = asyncssh.import_known_hosts(line)
                except (ValueError, asyncssh.Error):
                    continue
                host_keys, ca_keys, revoked, *_ = one.match(host, address, port)
                if host_keys or ca_keys or revoked:
                    kind = fields[2] if fields[0].startswith("@") else fields[1]
                    return str(path), number, kind
        return None

    def has_entry(self, host: str, port: int) -> bool:
        """True when some key (trusted or revoked) is recorded for ``host`` (a name or an IP
        address, as the inventory gives it) on ``port``."""
        address = host if _is_ip(host) else ""
        host_keys, ca_keys, revoked, *_ = self._known.match(host, address, port)
        return bool(host_keys or ca_keys or revoked)

    @property
    def trusted(self) -> asyncssh.SSHKnownHosts:
        return self._known

    async def record(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Append ``[host]:port key`` to the file as one whole line under an exclusive lock,
        unless that line is there already (another controller recorded it first)."""
        line = f"{_entry_host(host, port)} {key.export_public_key().decode().strip()}\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        fields = line.split()
        entry = (fields[0], fields[1], fields[2])
        if entry in self._recorded:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as stream:
            fcntl.flock(stream, fcntl.LOCK_EX)
            try:
                self._catch_up(stream)
                if entry not in self._recorded:
                    data = line.encode("utf-8")
                    end = stream.seek(0, os.SEEK_END)
                    if end:
                        stream.seek(end - 1)
                        if stream.read(1) != b"\n":
                            data = b"\n" + data  # the file's last line had no newline
                    stream.write(data)
                    stream.flush()
                    self._recorded.add(entry)
                    self._read_up_to = stream.tell()
            finally:
                fcntl.flock(stream, fcntl.LOCK_UN)

    def _catch_up(self, stream) -> None:
        """Read what other writers appended since this run last read the file (the locked
        file, so nothing is appended meanwhile); all of it if the file was rewritten."""
        size = os.fstat(stream.fileno()).st_size
        start = self._read_up_to if size >= self._read_up_to else 0
        if size == start:
            return
        stream.seek(start)
        tail = stream.read(min(size - start, MAX_SIZE))
        self._recorded |= _entries(tail.decode("utf-8", "replace"))
        self._read_up_to = start + len(tail)
