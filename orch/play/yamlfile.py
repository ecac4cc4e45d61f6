"""YAML that remembers where each value came from, so a play error can say ``file:line``.

PyYAML's composer keeps a ``start_mark`` on every node; plain ``yaml.safe_load`` throws them
away. ``load_yaml`` builds ordinary dicts and lists (subclasses that carry the line of the
mapping or sequence and of each key or item) so the loader can point at the exact line.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from orch.config import MAX_FILE_BYTES, decode_text, read_regular_file
from orch.errors import InputError, Where

#: At most this many YAML nodes in one play, counting each use of an alias: a few anchors
#: used in each other ("billion laughs") must not expand into billions of values.
MAX_NODES = 1_000_000


class LineDict(dict):
    """A mapping from YAML: ``line`` is where it starts, ``key_lines[key]`` where each key is."""

    line: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.key_lines: dict = {}

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence from YAML: ``line`` is where it starts, ``item_lines[i]`` where item i is."""

    line: int = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def read_play_text(path: str | os.PathLike, display: str) -> str:
    """The text of a play file: a regular file of at most ``MAX_FILE_BYTES``, in UTF-8.

    A FIFO, device or /proc path is refused rather than read (it could block forever), and
    bytes that are not UTF-8 are an InputError naming the line, never a traceback.
    """
    data = read_regular_file(path, "play", MAX_FILE_BYTES, Where(display))
    return decode_text(data, "play", Where(display))


def load_yaml(text: str, file: str) -> Any:
    """Parse ``text``; syntax errors and duplicate keys become InputError at their line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"not valid YAML: {error.problem or error.context}", Where(file, line)) from None
    except yaml.YAMLError as error:
        raise InputError(f"not valid YAML: {error}", Where(file)) from None
    except RecursionError:
        raise InputError("not valid YAML: nested too deeply", Where(file)) from None
    if node is None:
        return None
    constructor = yaml.constructor.SafeConstructor()
    try:
        return _convert(node, constructor, file, [MAX_NODES])
    except RecursionError:
        raise InputError("not valid YAML: nested too deeply", Where(file)) from None


def _convert(node: yaml.Node, constructor: yaml.constructor.SafeConstructor, file: str,
             budget: list[int]) -> Any:
    line = node.start_mark.line + 1
    budget[0] -= 1
    if budget[0] < 0:
        raise InputError(f"more than {MAX_NODES} values (aliases expanded)", Where(file, line))
    if isinstance(node, yaml.MappingNode):
        result = LineDict()
        result.line = line
        for key_node, value_node in node.value:
            key = _convert(key_node, constructor, file, budget)
            key_line = key_node.start_mark.line + 1
            if key == "<<":
                raise InputError("YAML merge keys (<<) are not supported in plays", Where(file, key_line))
            if isinstance(key, dict | list):
                raise InputError("a mapping key must be a plain value", Where(file, key_line))
            if key in result:
                raise InputError(f"duplicate key {key!r}", Where(file, key_line))
            result[key] = _convert(value_node, constructor, file, budget)
            result.key_lines[key] = key_line
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LineList()
        result.line = line
        for item in node.value:
            result.append(_convert(item, constructor, file, budget))
            result.item_lines.append(item.start_mark.line + 1)
        return result
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as error:
        raise InputError(f"not valid YAML: {error.problem}", Where(file, line)) from None
    except (ValueError, OverflowError, TypeError, AttributeError) as error:
        # PyYAML's constructors trust their resolver: 2020-13-45 or "!!timestamp x" crash them
        raise InputError(f"not valid YAML: {node.value!r}: {error}", Where(file, line)) from None
