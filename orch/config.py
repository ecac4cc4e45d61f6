"""orch.cfg: settings with a known precedence, validated once.

Precedence, lowest first: defaults, ``~/.orch.cfg``, ``./orch.cfg``, ``ORCH_*`` environment,
command-line flags. Every value remembers where it came from so an error can name it.
Relative paths in a config file are relative to that file's folder.
"""

from __future__ import annotations

import configparser
import errno
import os
import re
import stat
from dataclasses import dataclass, field, fields
from pathlib import Path

from orch.errors import InputError, Where

#: The most orch reads of one input file (inventory, vars file, play, orch.cfg): a bigger one is
#: refused, so a mistaken ``-i /dev/zero``-like path cannot fill the memory.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Pseudo file systems whose "regular" files have no real size and may block or never end.
_PSEUDO_ROOTS = ("/proc", "/sys")
_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | float | int, where: Where | None = None) -> float:
    """``'90'``, ``'1.5s'``, ``'5m'``, ``'1h'`` → seconds; anything else is an InputError."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text < 0:
            raise InputError(f"duration must not be negative, got {text}", where)
        return float(text)
    match = _DURATION.match(str(text))
    if not match:
        raise InputError(f"expected a duration such as 30s, 5m or 1h, got {text!r}", where)
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class Config:
    """Every setting orch reads. Durations are seconds; paths are absolute."""

    inventory: tuple[str, ...] = ()
    module_paths: tuple[str, ...] = ()
    fact_cache: str = "sqlite:///~/.orch/facts.db"
    journal: str = "sqlite:///~/.orch/journal.db"
    concurrency: int = 100
    connect_timeout: float = 10.0
    request_timeout: float = 60.0
    interrupt_grace: float = 10.0  # after SIGINT/SIGTERM: how long requests in flight may end
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_policy: str = "strict"  # strict | accept-new
    remote_python: str = "auto"  # or a path; per host: ansible_python_interpreter
    ssh_user: str = ""
    ssh_key: str = ""
    ssh_config: str = "~/.ssh/config"  # OpenSSH client config read for Host blocks; "" : none
    lab_dir: str = "~/.orch/lab"
    fact_source: str = "system"  # system | facter: what ``orch facts --gather`` asks hosts for
    sources: dict = field(default_factory=dict, compare=False)  # name -> where it was set


_LIST_KEYS = {"inventory", "module_paths"}
_PATH_KEYS = {"known_hosts", "ssh_key", "ssh_config", "lab_dir"}
_URL_KEYS = {"fact_cache", "journal"}
_INT_KEYS = {"concurrency"}
_DURATION_KEYS = {"connect_timeout", "request_timeout", "interrupt_grace"}
_CHOICES = {"host_key_policy": {"strict", "accept-new"}, "fact_source": {"system", "facter"}}


def _resolve_path(value: str, base: Path) -> str:
    path = Path(os.path.expanduser(value))
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_url(value: str, base: Path) -> str:
    if value.startswith("sqlite:///"):
        return "sqlite:///" + _resolve_path(value[len("sqlite:///"):], base)
    return value


def _convert(name: str, raw: str, base: Path, where: Where):
    if "\x00" in raw and (name in _LIST_KEYS or name in _PATH_KEYS or name in _URL_KEYS):
        raise InputError("a path cannot hold a NUL byte", where)
    if name in _LIST_KEYS:
        items = [item.strip() for item in re.split(r"[,:\n]", raw) if item.strip()]
        return tuple(_resolve_path(item, base) for item in items)
    if name in _PATH_KEYS:
        return _resolve_path(raw, base) if raw else ""
    if name in _URL_KEYS:
        return _resolve_url(raw, base)
    if name in _INT_KEYS:
        try:
            value = int(raw)
        except ValueError:
            raise InputError(f"expected an integer, got {raw!r}", where) from None
        if value < 1:
            raise InputError(f"must be at least 1, got {value}", where)
        return value
    if name in _DURATION_KEYS:
        return parse_duration(raw, where)
    if name in _CHOICES and raw not in _CHOICES[name]:
        raise InputError(f"expected one of {', '.join(sorted(_CHOICES[name]))}, got {raw!r}", where)
    return raw


_NAMES = [f.name for f in fields(Config) if f.name != "sources"]


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_not_pseudo(path: str | os.PathLike, what: str, where: Where | None = None) -> None:
    """Refuse a path inside /proc or /sys (file or folder): what they hold is not input."""
    real = os.path.realpath(path)
    if any(real == root or real.startswith(root + "/") for root in _PSEUDO_ROOTS):
        raise InputError(f"cannot read {what}: {real} is on a pseudo file system "
                         "(only regular files and folders of them are read)",
                         where or Where(os.fspath(path)))


def decode_text(data: bytes, what: str, where: Where) -> str:
    """UTF-8 text of ``data``; bytes that are not UTF-8 are an InputError naming the line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(f"{what} is not UTF-8 text (byte {error.start + 1})",
                         Where(where.file, line, where.path)) from None


def read_regular_file(path: str | os.PathLike, what: str, limit: int = MAX_FILE_BYTES,
                      where: Where | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else InputError.

    Opened without blocking and checked on the open descriptor (no race with a swapped path):
    a FIFO, device or socket would make a read hang or never end, and files under /proc and
    /sys report no size (see ``check_not_pseudo``). ``what`` names the file in errors ("inventory", "play").
    """
    where = where or Where(os.fspath(path))
    if "\x00" in os.fspath(path):
        raise InputError(f"cannot read {what}: a path cannot hold a NUL byte", where)
    check_not_pseudo(path, what, where)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        reason = "is a folder" if error.errno == errno.EISDIR else error.strerror
        raise InputError(f"cannot read {what}: {reason}", where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"cannot read {what}: {_kind(info.st_mode)} "
                             "(only regular files are read)", where)
        if info.st_size > limit:
            raise InputError(f"cannot read {what}: {info.st_size} bytes, more than the "
                             f"{_size_text(limit)} allowed", where)
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise InputError(f"cannot read {what}: {error.strerror}", where) from None
    finally:
        os.close(fd)
    if size > limit:
        raise InputError(f"cannot read {what}: more than the {_size_text(limit)} allowed", where)
    return b"".join(chunks)


def _size_text(limit: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def _read_file(path: Path) -> list[tuple[str, str, Where]]:
    parser = configparser.ConfigParser(interpolation=None)
    data = read_regular_file(path, "config file")
    try:
        parser.read_string(decode_text(data, "config file", Where(str(path))), str(path))
    except configparser.Error as error:
        line = getattr(error, "lineno", None)
        raise InputError(f"not a valid INI file: {error.message.splitlines()[0]}",
                         Where(str(path), line)) from None
    found = []
    for section in parser.sections():
        for key, value in parser.items(section):
            name = key.replace("-", "_")
            where = Where(str(path), None, f"[{section}] {key}")
            if name not in _NAMES:
                raise InputError(f"unknown setting (known: {', '.join(_NAMES)})", where)
            found.append((name, value, where))
    return found


def load_config(
    flags: dict | None = None,
    environ: dict | None = None,
    cwd: Path | None = None,
    home: Path | None = None,
) -> Config:
    """Build the Config from every layer; ``flags`` holds only the flags the user gave."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    home = Path(os.path.expanduser("~")) if home is None else home
    defaults = Config()
    values = {name: getattr(defaults, name) for name in _NAMES}
    for name in ("fact_cache", "journal"):
        values[name] = _resolve_url(values[name], home)
    for name in _PATH_KEYS:
        values[name] = _resolve_path(values[name], home) if values[name] else ""
    sources = {name: "default" for name in _NAMES}

    for path in (home / ".orch.cfg", cwd / "orch.cfg"):
        if path.is_file():
            for name, raw, where in _read_file(path):
                values[name] = _convert(name, raw, path.parent, where)
                sources[name] = str(where)
    for name in _NAMES:
        env_name = "ORCH_" + name.upper()
        if env_name in environ:
            where = Where(None, None, f"environment {env_name}")
            values[name] = _convert(name, environ[env_name], cwd, where)
            sources[name] = str(where)
    for name, raw in (flags or {}).items():
        if raw is None:
            continue
        where = Where(None, None, f"--{name.replace('_', '-')}")
        if isinstance(raw, list | tuple):
            raw = ",".join(raw)
        values[name] = _convert(name, str(raw), cwd, where)
        sources[name] = str(where)
    return Config(**values, sources=sources)
