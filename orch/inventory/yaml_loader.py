"""PyYAML's SafeLoader (libyaml when present) as Ansible's DataLoader uses it, plus the line of
every mapping key: the part of the YAML inventory reader that needs PyYAML, imported only
when a text is not in the parse cache."""

from __future__ import annotations

import copy

import yaml

from orch.inventory.model import UnsafeText
from orch.inventory.yaml_source import YamlError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def parse(text: str) -> tuple[object, dict]:
    """Parse YAML ``text`` → (data, positions by id of mapping); YamlError names the line."""
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as error:  # bytes that were not UTF-8 (kept as surrogates)
        line = text.count("\n", 0, error.start) + 1
        raise YamlError("YAML parsing failed: the file is not UTF-8 text", line) from None
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
    except (ValueError, OverflowError, TypeError, AttributeError) as error:
        # PyYAML's constructors trust their resolver: 2020-13-45 or "!!timestamp x" crash them
        raise YamlError(f"YAML parsing failed: cannot construct a value: {error}", None) from None
    finally:
        loader.dispose()
    return data, loader.positions
