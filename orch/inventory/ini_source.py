"""Ansible's INI inventory format, read as ``ansible.plugins.inventory.ini`` (2.19) reads it.

Sections ``[g]``, ``[g:vars]``, ``[g:children]`` (children may name groups defined further
down), host lines ``name[:port] k=v ...`` split with shlex, ranges, and values typed with
``ast.literal_eval`` (``1`` is an int, ``"1"`` after shlex is still an int, ``yes`` a string).
Hot path: a range line ``host[000000:099999]`` expands into 100,000 hosts, so per-host work
is kept to a dict insert and a list append.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings

from orch.inventory.model import Host, Inventory, InventoryError
from orch.inventory.ranges import expand_hostpattern

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_GROUPNAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")


class IniError(InventoryError):
    """An INI rule broken at ``line`` (1-based)."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


def parse_ini(text: str, inventory: Inventory) -> None:
    """Add the INI inventory ``text`` to ``inventory``; IniError names the line at fault."""
    pending: dict[str, dict] = {}
    groupname = "ungrouped"
    state = "hosts"
    number = 0
    try:
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            match = _SECTION.match(line)
            if match:
                groupname, state = match.group(1), match.group(2) or "hosts"
                if state not in ("hosts", "children", "vars"):
                    title = f"{match.group(1)}:{match.group(2)}"
                    raise IniError(f"Section [{title}] has unknown type: {state}", number)
                if groupname not in inventory.groups:
                    if state == "vars" and groupname not in pending:
                        pending[groupname] = {"line": number, "state": state, "name": groupname}
                    inventory.add_group(groupname)
                if groupname in pending and state != "vars":
                    if pending[groupname]["state"] == "children":
                        _add_pending_children(inventory, groupname, pending)
                    elif pending[groupname]["state"] == "vars":
                        del pending[groupname]
                continue
            if line.startswith("[") and line.endswith("]"):
                raise IniError(f"Invalid section entry: '{line}'. Please make sure that there are "
                               "no spaces in the section entry, and that there are no other "
                               "invalid characters", number)
            if state == "hosts":
                _host_line(line, groupname, inventory, number)
            elif state == "vars":
                if "=" not in line:
                    raise IniError(f"Expected key=value, got: {line}", number)
                key, value = line.split("=", 1)
                inventory.set_variable(groupname, key.strip(), parse_value(value.strip()))
            else:  # children
                found = _GROUPNAME.match(line)
                if not found:
                    raise IniError(f"Expected group name, got: {line}", number)
                child = found.group(1)
                if child not in inventory.groups:
                    if child not in pending:
                        pending[child] = {"line": number, "state": state, "name": child,
                                          "parents": [groupname]}
                    else:
                        pending[child].setdefault("parents", []).append(groupname)
                else:
                    inventory.add_child(groupname, child)
    except IniError:
        raise
    except InventoryError as error:
        raise IniError(str(error), number) from None
    for decl in pending.values():
        if decl["state"] == "vars":
            raise IniError(f"Section [{decl['name']}:vars] not valid for undefined group "
                           f"{decl['name']!r}.", decl["line"])
        raise IniError(f"Section [{decl['parents'][-1]}:children] includes undefined group "
                       f"{decl['name']!r}.", decl["line"])


def _add_pending_children(inventory: Inventory, group: str, pending: dict) -> None:
    for parent in pending[group].get("parents", []):
        inventory.add_child(parent, group)
        if parent in pending and pending[parent]["state"] == "children":
            _add_pending_children(inventory, parent, pending)
    del pending[group]


def _host_line(line: str, groupname: str, inventory: Inventory, number: int) -> None:
    if line.isascii() and not _PLAIN_UNSAFE.search(line):
        tokens = line.split()  # the same split as shlex's for text without quotes, # or \\
    else:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as error:
            raise IniError(f"Error parsing host definition '{line}': {error}", number) from None
    if not tokens:
        raise IniError(f"Expected a host definition, got: {line}", number)
    pattern = tokens[0]
    try:
        names, port = expand_hostpattern(pattern)
    except ValueError as error:
        raise IniError(str(error), number) from None
    if port is None and pattern.strip().endswith(":"):
        raise IniError(f"Invalid host pattern '{pattern}' supplied, ending in ':' is not allowed, "
                       "this character is reserved to provide a port.", number)
    if "---" in pattern and any(name.strip() == "---" for name in names):
        raise IniError(f"Invalid host pattern '{pattern}' supplied, '---' is normally a sign "
                       "this is a YAML file.", number)
    variables = {}
    for token in tokens[1:]:
        if "=" not in token:
            raise IniError(f"Expected key=value host variable assignment, got: {token}", number)
        key, value = token.split("=", 1)
        variables[key] = parse_value(value)
    group = inventory.groups.get(groupname)
    if group is None:
        raise IniError(f"Could not find group {groupname} in inventory", number)
    hosts = inventory.hosts
    groups = inventory.groups
    if len(names) == 1 and port is None and names[0] and names[0] not in hosts:
        # the common line: one new host (what add_host does, without its general checks)
        name = names[0]
        host = hosts[name] = Host(name, None, inventory, (group,))
        group.host_list.append(host)
        group._host_names.add(name)
        if variables:
            if name in groups:
                for key, value in variables.items():
                    groups[name].set_variable(key, value)
            else:
                host.own_vars = variables
        return
    if len(names) > 64 and port is None and not variables and inventory.add_new_hosts(names, groupname):
        return
    add_host = inventory.add_host
    for name in names:
        host = hosts.get(name)
        if host is None or name not in group._host_names:
            add_host(name, groupname, port)
            host = hosts[name]
        if variables:
            if name in groups:  # Ansible sets a same-named group's vars instead
                for key, value in variables.items():
                    groups[name].set_variable(key, value)
            else:
                for key, value in variables.items():
                    host.set_variable(key, value)


# Characters for which str.split() and shlex.split() could differ.
_PLAIN_UNSAFE = re.compile(r"['\"#\\\x0b\x0c\x1c-\x1f]")
_NAME = re.compile(r"[^\W\d]\w*")
_PLAIN_INT = re.compile(r"(?:0|[1-9][0-9]*)")
# Shapes literal_eval must refuse, told apart cheaply: two or more dots between words
# (addresses, host names), or no quote/bracket but an operator or punctuation a literal lacks.
_DOTTED = re.compile(r"[\w-]+(?:\.[\w-]+){2,}")
_GROUPING = re.compile(r"['\"\[\](){}]")
_ODD = re.compile(r"[:/@$%&!?;=<>|^~`\\]")
_MISSING = object()
_SCALARS: dict[str, object] = {}


def parse_value(text: str):
    """An INI value as Ansible types it: a Python literal if ``ast.literal_eval`` takes it,
    else the text itself; tuples and sets become lists, bytes become text.

    The common shapes (names, plain ints, addresses) are decided without literal_eval, and
    scalar results are remembered: a 100,000-line inventory repeats the same few values.
    """
    known = _SCALARS.get(text, _MISSING)
    if known is not _MISSING:
        return known
    if _NAME.fullmatch(text):
        value = {"True": True, "False": False, "None": None}.get(text, text)
    elif _PLAIN_INT.fullmatch(text):
        value = int(text)
    elif _DOTTED.fullmatch(text) or (_ODD.search(text) and not _GROUPING.search(text)):
        value = text
    else:
        value = _literal(text)
    if isinstance(value, str | int | float | bool) or value is None:
        if len(_SCALARS) < 200_000:
            _SCALARS[text] = value
    return value


def _literal(text: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError):
        return text
    except RecursionError:
        raise InventoryError(f"value nested too deeply: {text[:40]}...") from None
    return _coerce(value, trusted=True)


def _coerce(value, trusted: bool):
    from orch.inventory.model import UnsafeText

    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | set):
        return [_coerce(item, trusted) for item in value]
    if isinstance(value, dict):
        return {key: _coerce(item, trusted) for key, item in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        # Ansible decodes bytes but does not mark the text trusted: it prints as unsafe.
        return UnsafeText(value.decode("utf-8", "surrogateescape"))
    return value
