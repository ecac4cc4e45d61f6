"""``group_vars/`` and ``host_vars/`` beside an inventory, as Ansible's host_group_vars plugin.

For each inventory source given (a folder: inside it; a file: beside it), ``group_vars/NAME``
and ``host_vars/NAME`` are read from ``NAME``, ``NAME.yml``, ``NAME.yaml`` or ``NAME.json``
(the first that exists) or, when that is a folder, from every file in it (name order, hidden
and ``~`` files skipped). Each folder is listed once, so 100,000 hosts cost no 400,000 stats.
"""

from __future__ import annotations

import os

from orch.config import MAX_FILE_BYTES, read_regular_file
from orch.errors import InputError, Where
from orch.inventory.model import Inventory

_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def apply_vars_files(inventory: Inventory, sources: list[str]) -> None:
    """Attach group_vars/host_vars found beside ``sources`` to the inventory's groups and hosts."""
    changed = False
    for source in sources:
        base = source if os.path.isdir(source) else os.path.dirname(source) or "."
        base = os.path.realpath(base)
        for subdir, entities in (("group_vars", inventory.groups), ("host_vars", inventory.hosts)):
            folder = os.path.join(base, subdir)
            if not os.path.isdir(folder):
                continue
            try:
                entries = set(os.listdir(folder))
            except OSError as error:
                raise InputError(f"cannot read {subdir}: {error.strerror}", Where(folder)) from None
            for name in _names_present(entries):
                entity = entities.get(name)
                if entity is None or name.startswith(os.sep):
                    continue
                for path in _find_vars_files(folder, name, entries):
                    data = _load(path)
                    if data:
                        if entity.plugin_vars is None:
                            entity.plugin_vars = {}
                        entity.plugin_vars.update(data)
                        changed = True
    if changed:
        inventory._freeze(forget_host_views=True)


def _names_present(entries: set[str]) -> list[str]:
    """Entity names that may have a vars file among ``entries`` (sorted for a stable order)."""
    names = set()
    for entry in entries:
        names.add(entry)
        for extension in _EXTENSIONS[1:]:
            if entry.endswith(extension):
                names.add(entry[: -len(extension)])
    return sorted(names)


def _find_vars_files(folder: str, name: str, entries: set[str]) -> list[str]:
    for extension in _EXTENSIONS:
        if name + extension in entries:
            path = os.path.join(folder, name + extension)
            if os.path.isdir(path):
                return _dir_files(path)
            return [path]
    return []


def _dir_files(path: str, seen: frozenset = frozenset()) -> list[str]:
    """Files in a vars folder, depth first; a symlink back up the tree is followed once."""
    real = os.path.realpath(path)
    if real in seen:
        return []
    seen = seen | {real}
    try:
        entries = sorted(os.listdir(path))
    except OSError as error:
        raise InputError(f"cannot read vars folder: {error.strerror}", Where(path)) from None
    found = []
    for entry in entries:
        if entry.startswith(".") or entry.endswith("~"):
            continue
        extension = os.path.splitext(entry)[1]
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not extension:
            found.extend(_dir_files(full, seen))
        elif os.path.isfile(full) and (not extension or extension in _EXTENSIONS):
            found.append(full)
    return found


def _load(path: str) -> dict | None:
    from orch.inventory.yaml_source import YamlError, load_data

    data = read_regular_file(path, "vars file", MAX_FILE_BYTES)
    text = data.decode("utf-8", "surrogateescape")
    try:
        data, _ = load_data(text)
    except YamlError as error:
        raise InputError(str(error), Where(path, error.line)) from None
    if not data:
        return None
    if not isinstance(data, dict):
        raise InputError(f"a vars file must hold a mapping, got {type(data).__name__}", Where(path, 1))
    return data
