"""Ansible's YAML inventory format, read as ``ansible.plugins.inventory.yaml`` (2.19) reads it.

The file is loaded as Ansible's DataLoader loads it (JSON first, then YAML 1.1 with libyaml
when present, ``!unsafe`` and ``!vault`` understood, duplicate keys: last wins), while the line
of every mapping key is remembered so that an error can point at it.
"""

from __future__ import annotations

import json

from orch.inventory import parse_cache
from orch.inventory.model import Inventory, InventoryError
from orch.inventory.ranges import expand_hostpattern


class YamlError(InventoryError):
    """A YAML inventory rule broken at ``line`` (1-based, or None when unknown)."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def load_data(text: str) -> tuple[object, dict]:
    """Parse ``text`` as Ansible does (JSON, else YAML) → (data, positions by id of mapping).

    PyYAML is imported only when the text is not already in the parse cache.
    """
    try:
        return json.loads(text), {}
    except (ValueError, RecursionError):
        pass
    cached = parse_cache.load(text)
    if cached is not None:
        return cached
    from orch.inventory.yaml_loader import parse

    data, positions = parse(text)
    parse_cache.store(text, data, positions)
    return data, positions


class _Walker:
    """``InventoryModule._parse_group`` and friends, with a line for every error."""

    def __init__(self, inventory: Inventory, positions: dict, warnings: list[str], text: str = ""):
        self.inventory = inventory
        self.positions = positions
        self.warnings = warnings
        self.text = text

    def line_of(self, mapping, key=None) -> int | None:
        found = self.positions.get(id(mapping))
        if found is None:
            return self._json_line(key)
        start, keys = found
        if key is not None:
            try:
                return keys.get(key, start)
            except TypeError:
                return start
        return start

    def _json_line(self, key) -> int | None:
        """JSON carries no positions: the line where the key first appears is close enough."""
        if not self.text or key is None:
            return None
        at = self.text.find(json.dumps(str(key), ensure_ascii=False) + ":")
        if at < 0:
            at = self.text.find(json.dumps(str(key), ensure_ascii=False))
        return self.text.count("\n", 0, at) + 1 if at >= 0 else None

    def parse_group(self, group, group_data, where: int | None):
        if not isinstance(group_data, dict | type(None)):
            self.warnings.append(f"Skipping '{group}' as this is not a valid group definition")
            return group
        try:
            group = self.inventory.add_group(group)
        except InventoryError as error:
            raise YamlError(f"Unable to add group {group}: {error}", where) from None
        if group_data is None:
            return group
        for section in ("vars", "children", "hosts"):
            if section in group_data:
                if isinstance(group_data[section], str):
                    group_data[section] = {group_data[section]: None}
                if not isinstance(group_data[section], dict | type(None)):
                    raise YamlError(
                        f'Invalid "{section}" entry for "{group}" group, requires a dictionary, '
                        f'found "{type(group_data[section])}" instead.',
                        self.line_of(group_data, section))
        for key in list(group_data):
            value = group_data[key]
            line = self.line_of(group_data, key)
            if not isinstance(value, dict | type(None)):
                self.warnings.append(f"Skipping key ({key}) in group ({group}) as it is not a "
                                     f"mapping, it is a {type(value)}")
                continue
            if value is None:
                continue
            try:
                if key == "vars":
                    for var in value:
                        self.inventory.set_variable(group, var, value[var])
                elif key == "children":
                    for subgroup in value:
                        sub_line = self.line_of(value, subgroup)
                        subgroup = self.parse_group(subgroup, value[subgroup], sub_line)
                        try:
                            self.inventory.add_child(group, subgroup)
                        except InventoryError as error:
                            raise YamlError(str(error), sub_line) from None
                elif key == "hosts":
                    for pattern in value:
                        self.parse_hosts(group, pattern, value[pattern], self.line_of(value, pattern))
                else:
                    self.warnings.append(f"Skipping unexpected key ({key}) in group ({group}), only "
                                         '"vars", "children" and "hosts" are valid')
            except YamlError:
                raise
            except InventoryError as error:
                raise YamlError(str(error), line) from None
        return group

    def parse_hosts(self, group: str, pattern, host_vars, line: int | None) -> None:
        if not isinstance(pattern, str):
            raise YamlError(f"Host pattern {pattern} must be a string. Enclose integers/floats in "
                            "quotation marks.", line)
        try:
            names, port = expand_hostpattern(pattern)
        except ValueError as error:
            raise YamlError(str(error), line) from None
        host_vars = host_vars or {}
        if not isinstance(host_vars, dict):
            raise YamlError(f"Invalid data from file, expected dictionary and got: {host_vars!r}",
                            line)
        try:
            for name in names:
                self.inventory.add_host(name, group, port)
                for key in host_vars:
                    self.inventory.set_variable(name, key, host_vars[key])
        except InventoryError as error:
            raise YamlError(str(error), line) from None


def parse_yaml(text: str, inventory: Inventory, warnings: list[str] | None = None) -> None:
    """Add the YAML (or JSON) inventory ``text`` to ``inventory``; YamlError names the line."""
    data, positions = load_data(text)
    if not data:
        raise YamlError("Parsed empty YAML file", 1)
    if not isinstance(data, dict):
        raise YamlError(f"YAML inventory has invalid structure, it should be a dictionary, got: "
                        f"{type(data)}", 1)
    if data.get("plugin"):
        raise YamlError("Plugin configuration YAML file, not YAML inventory",
                        positions.get(id(data), (1, {}))[1].get("plugin"))
    walker = _Walker(inventory, positions, warnings if warnings is not None else [], text)
    for group in data:
        walker.parse_group(group, data[group], walker.line_of(data, group))
