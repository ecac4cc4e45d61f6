"""Inventory sources → one Inventory, choosing parsers and merging folders as Ansible does.

Ansible tries its ``yaml`` plugin on ``.yml .yaml .json`` files and files without extension,
then its ``ini`` plugin on anything but ``.toml``; the first that parses wins, and what a failed
attempt already added stays (Ansible cannot roll it back either). A folder merges its entries in
name order, skipping hidden files, ``host_vars``/``group_vars``/``vars_plugins`` and Ansible's
ignored extensions. Unlike Ansible, orch refuses an inventory source it cannot parse (exit 2)
instead of warning and going on with less hosts than the user meant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from orch.config import MAX_FILE_BYTES, check_not_pseudo, read_regular_file
from orch.errors import InputError, Where
from orch.inventory.model import Inventory, InventoryError

YAML_EXTENSIONS = (".yaml", ".yml", ".json")
IGNORED_EXTENSIONS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                      ".orig", ".cfg", ".retry")
_IGNORED = re.compile("|".join([r"^\.", "^host_vars$", "^group_vars$", "^vars_plugins$"]
                               + [re.escape(ext) + "$" for ext in IGNORED_EXTENSIONS]))


def load_inventory(paths: Sequence[str] | str) -> Inventory:
    """Read inventory files and folders (in the order given) into one Inventory.

    :raises InputError: a missing path, or a source neither parser accepts (file and line named).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [os.fspath(paths)]
    inventory = Inventory()
    if not paths:
        raise InputError("no inventory given (set 'inventory' in orch.cfg or pass -i PATH)")
    for path in paths:
        path = os.fspath(path)
        if "\x00" in path:
            raise InputError("an inventory path cannot hold a NUL byte", Where(repr(path)))
        if not os.path.exists(path):
            raise InputError("inventory not found", Where(path))
        _load_source(path, inventory)
    try:
        inventory.reconcile()
    except InventoryError as error:
        raise InputError(str(error), Where(os.fspath(paths[-1]))) from None
    from orch.inventory.vars_files import apply_vars_files

    apply_vars_files(inventory, [os.fspath(path) for path in paths])
    return inventory


def _load_source(path: str, inventory: Inventory, seen: frozenset = frozenset()) -> None:
    """One file or folder; only regular files are read (FIFOs, devices, /proc are refused),
    each at most ``MAX_FILE_BYTES``; a folder linked inside itself is read once."""
    check_not_pseudo(path, "inventory")
    if os.path.isdir(path):
        real = os.path.realpath(path)
        if real in seen:
            return
        seen = seen | {real}
        try:
            entries = sorted(os.listdir(path))
        except OSError as error:
            raise InputError(f"cannot read inventory folder: {error.strerror}", Where(path)) from None
        for entry in entries:
            if not _IGNORED.search(entry):
                _load_source(os.path.join(path, entry), inventory, seen)
        return
    data = read_regular_file(path, "inventory", MAX_FILE_BYTES)
    text = data.decode("utf-8", "surrogateescape")
    parse_text(text, path, inventory)
    inventory.sources.append(path)


def parse_text(text: str, path: str, inventory: Inventory) -> None:
    """Parse one source's text as Ansible would for a file at ``path`` (the name picks the parser)."""
    extension = os.path.splitext(path)[1]
    if extension == ".toml":
        raise InputError("TOML inventories are not supported; use YAML or INI", Where(path))
    yaml_error = None
    if not extension or extension in YAML_EXTENSIONS:
        from orch.inventory.yaml_source import YamlError, parse_yaml

        try:
            parse_yaml(text, inventory)
            return
        except YamlError as error:
            yaml_error = error
        except RecursionError:
            yaml_error = InventoryError("nested too deeply")
    from orch.inventory.ini_source import IniError, parse_ini

    try:
        parse_ini(text, inventory)
    except IniError as ini_error:
        chosen, label = ini_error, "INI"
        if yaml_error is not None and extension:
            # A .yml/.yaml/.json file was meant as YAML: the YAML reason is the useful one.
            chosen, label = yaml_error, "YAML"
        elif yaml_error is not None and not _looks_like_ini(text):
            chosen, label = yaml_error, "YAML"
        line = getattr(chosen, "line", None)
        raise InputError(f"not a valid {label} inventory: {_one_line(chosen)}",
                         Where(path, line)) from None
    except InventoryError as error:
        raise InputError(f"not a valid inventory: {_one_line(error)}", Where(path)) from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split("\n"))


def _looks_like_ini(text: str) -> bool:
    """For a file without extension: was it meant as INI (a section header, or no ``key:``)?"""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") or line.startswith("---"):
            return not line.startswith("---")
        return not line.endswith(":")
    return True
