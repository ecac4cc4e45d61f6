"""Parsed YAML inventories kept between runs, so a large inventory is not parsed every time.

libyaml plus PyYAML's constructor cost about 0.2 ms per host on every run (38 ms for the
200-host lab inventory, most of ``orch call``'s start-up after imports); the marshalled result
loads in about 1 ms. Only texts of at least ``MIN_SIZE`` are cached. An entry is named by the
SHA-256 of the text (with the cache format and the installed PyYAML), so an edited file is
parsed afresh.
What marshal cannot hold exactly (``!unsafe`` text, dates) is never cached. Entries live in
the user's own folder (``$ORCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/orch``, else
``~/.cache/orch``) and are read only when that folder and the file belong to the user and no
one else can write them; a damaged entry is ignored and replaced. The cache is an
optimisation: any failure to read or write it just means parsing the text.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import marshal
import os
import stat
import tempfile
from pathlib import Path

MIN_SIZE = 32 * 1024
KEEP = 32  # entries; the oldest go when a new one is written
_FORMAT = 1


def cache_dir() -> Path:
    explicit = os.environ.get("ORCH_CACHE_DIR")
    if explicit:
        return Path(explicit) / "inventory"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "orch" / "inventory"


@functools.lru_cache(maxsize=1)
def _pyyaml() -> str:
    """Which PyYAML is installed, without importing it (a cache hit never needs it)."""
    spec = importlib.util.find_spec("yaml")
    if spec is None or not spec.origin:
        return "none"
    info = os.stat(spec.origin)  # yaml/__init__.py, rewritten by every install or upgrade
    return f"{spec.origin}:{info.st_mtime_ns}:{info.st_size}"


def _entry(text: str) -> Path:
    digest = hashlib.sha256(f"{_FORMAT}\0{_pyyaml()}\0".encode())
    digest.update(text.encode("utf-8", "surrogatepass"))
    return cache_dir() / f"{digest.hexdigest()}.marshal"


def _mappings(data: object) -> list[dict]:
    """Every mapping in ``data`` once, in a fixed depth-first order (aliases visited once)."""
    found: list[dict] = []
    seen: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict | list) and id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, dict):
                found.append(item)
                stack.extend(reversed(list(item.values())))
            else:
                stack.extend(reversed(item))
    return found


def _owned_privately(path: Path) -> bool:
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def load(text: str) -> tuple[object, dict] | None:
    """(data, positions by id of mapping) as ``yaml_source.load_data`` made them, or None."""
    if len(text) < MIN_SIZE:
        return None
    path = _entry(text)
    try:
        if not (_owned_privately(path.parent) and _owned_privately(path)):
            return None
        data, entries = marshal.loads(path.read_bytes())
        mappings = _mappings(data)
        if len(mappings) != len(entries):
            return None
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return data, {id(mapping): entry for mapping, entry in zip(mappings, entries, strict=True)
                  if entry is not None}


def store(text: str, data: object, positions: dict) -> None:
    """Keep ``data`` and its line positions for the next run (silently skipped if impossible)."""
    if len(text) < MIN_SIZE:
        return
    entries = [positions.get(id(mapping)) for mapping in _mappings(data)]
    try:
        blob = marshal.dumps((data, entries))
    except ValueError:  # !unsafe text, dates, sets...: parse those every time
        return
    path = _entry(text)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _owned_privately(path.parent):
            return
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as stream:
            stream.write(blob)
        os.replace(temporary, path)
        _prune(path.parent)
    except OSError:
        return


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.marshal"), key=lambda entry: entry.stat().st_mtime)
    for old in entries[:-KEEP]:
        old.unlink(missing_ok=True)
