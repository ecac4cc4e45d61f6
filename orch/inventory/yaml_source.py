"""Ansible's YAML inventory format, read as ``ansible.plugins.inventory.yaml`` (2.19) reads it.

The file is loaded as Ansible's DataLoader loads it (JSON first, then YAML 1.1 with libyaml
when present, ``!unsafe`` and ``!vault`` understood, duplicate keys: last wins), while the line
of every mapping key is remembered so that an error can point at it.
"""

from __future__ import annotations

import copy
import json

import yaml

from orch.inventory import parse_cache
from orch.inventory.model import Inventory, InventoryError, UnsafeText
from orch.inventory.ranges import expand_hostpattern

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(InventoryError):
    """A YAML inventory rule broken at ``line`` (1-based, or None when unknown)."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


class _Loader(_BaseLoader):
    """SafeLoader that remembers where each mapping and key starts, plus Ansible's tags."""

    def __init__(self, stream):
        super().__init__(stream)
        self.positions: dict[int, tuple[int, dict]] = {}
        self.unsafe_depth = 0

    def construct_yaml_map(self, node):
        data: dict = {}
        yield data
        data.update(self.construct_mapping(node))
        lines: dict = {}
        for key_node, _ in node.value:
            try:
                key = self.construct_object(key_node)
                lines.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:
                pass
        self.positions[id(data)] = (node.start_mark.line + 1, lines)

    def construct_yaml_str(self, node):
        value = self.construct_scalar(node)
        return UnsafeText(value) if self.unsafe_depth else value

    def construct_unsafe(self, node):
        self.unsafe_depth += 1
        try:
            copied = copy.copy(node)
            copied.tag = self.resolve(type(node), node.value, (True, False))
            return self.construct_object(copied, deep=True)
        finally:
            self.unsafe_depth -= 1

    def construct_vault(self, node):
        copied = copy.copy(node)
        copied.tag = self.resolve(type(node), node.value, (True, False))
        value = self.construct_object(copied, deep=True)
        if not isinstance(value, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"the {node.tag!r} tag requires a string value", node.start_mark)
        return value


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:python/dict", _Loader.construct_yaml_map)
_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:python/unicode", _Loader.construct_yaml_str)
_Loader.add_constructor("!unsafe", _Loader.construct_unsafe)
_Loader.add_constructor("!vault", _Loader.construct_vault)
_Loader.add_constructor("!vault-encrypted", _Loader.construct_vault)


def load_data(text: str) -> tuple[object, dict]:
    """Parse ``text`` as Ansible does (JSON, else YAML) → (data, positions by id of mapping)."""
    try:
        return json.loads(text), {}
    except (ValueError, RecursionError):
        pass
    cached = parse_cache.load(text)
    if cached is not None:
        return cached
    loader = _Loader(text)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        text = " ".join(part for part in (error.context, error.problem) if part) or "invalid YAML"
        text = text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")
        raise YamlError(f"YAML parsing failed: {text}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        position = getattr(error, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        raise YamlError(f"YAML parsing failed: {str(error).splitlines()[0]}", line) from None
    except RecursionError:
        raise YamlError("YAML parsing failed: nested too deeply", None) from None
    finally:
        loader.dispose()
    parse_cache.store(text, data, loader.positions)
    return data, loader.positions


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
