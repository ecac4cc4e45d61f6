"""``ansible-inventory --list / --graph [--vars] / --host`` output, byte for byte.

The JSON is ``json.dumps(..., sort_keys=True, indent=4)`` of the same structure
``ansible.cli.inventory`` builds, with values converted the way its ``inventory_legacy``
encoder converts them (dates as ISO text, ``!unsafe`` text wrapped in ``__ansible_unsafe``).
The graph prints values with Python's ``str``, as Ansible does.
"""

from __future__ import annotations

import datetime
import json

from orch.errors import InputError
from orch.inventory.model import Group, Host, Inventory, UnsafeText

# Variables ansible-inventory never shows (its INTERNAL_STATIC_VARS that an inventory can set).
INTERNAL_VARS = frozenset((
    "ansible_async_path", "ansible_collection_name", "ansible_config_file",
    "ansible_dependent_role_names", "ansible_diff_mode", "ansible_facts", "ansible_forks",
    "ansible_inventory_sources", "ansible_limit", "ansible_play_batch", "ansible_play_hosts",
    "ansible_play_hosts_all", "ansible_play_role_names", "ansible_playbook_python",
    "ansible_role_name", "ansible_role_names", "ansible_run_tags", "ansible_skip_tags",
    "ansible_verbosity", "ansible_version", "inventory_dir", "inventory_file",
    "inventory_hostname", "inventory_hostname_short", "groups", "group_names", "hostvars",
    "playbook_dir", "play_hosts", "role_name", "role_names", "role_path", "role_uuid",
))


def shown_vars(host: Host) -> dict:
    """A host's effective vars minus the ones ansible-inventory hides."""
    variables = host.vars
    if any(isinstance(key, str) and key in INTERNAL_VARS for key in variables):
        return {k: v for k, v in variables.items() if not (isinstance(k, str) and k in INTERNAL_VARS)}
    return variables


def _key(key) -> str:
    if isinstance(key, str):
        return str(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int | float):
        return json.dumps(key)
    return str(key)


def to_jsonable(value, wrap_unsafe: bool = True):
    """Plain JSON types, converted as ansible-inventory's encoder converts them.

    ``wrap_unsafe``: ``--list`` marks untrusted text in host vars as ``{"__ansible_unsafe": ..}``;
    ``--host`` prints it plain.
    """
    if isinstance(value, UnsafeText):
        return {"__ansible_unsafe": str(value)} if wrap_unsafe else str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {_key(k): to_jsonable(v, wrap_unsafe) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item, wrap_unsafe) for item in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _dump(data) -> str:
    return json.dumps(data, sort_keys=True, indent=4, ensure_ascii=False)


def list_data(inventory: Inventory) -> dict:
    """The structure ``ansible-inventory --list`` prints (before JSON encoding)."""
    results: dict = {}
    seen: set[str] = set()
    top = inventory.groups["all"]

    def format_group(group: Group) -> None:
        entry: dict = {}
        if group.name != "all":
            hosts = [host.name for host in group.host_list]
            if hosts:
                entry["hosts"] = hosts
        children = []
        for sub in group.child_groups:
            children.append(sub.name)
            if sub.name not in seen:
                format_group(sub)
                seen.add(sub.name)
        if children:
            entry["children"] = children
        if entry:
            results[group.name] = entry
        else:
            results.pop(group.name, None)

    format_group(top)
    hostvars = {}
    for host in top.all_hosts():
        variables = shown_vars(host)
        if variables:
            hostvars[host.name] = to_jsonable(variables)
    results["_meta"] = {"hostvars": hostvars, "profile": "inventory_legacy"}
    return results


def to_list_json(inventory: Inventory) -> str:
    return _dump(list_data(inventory))


def _sorted_items(variables: dict) -> list:
    try:
        return sorted(variables.items())
    except TypeError:
        return sorted(variables.items(), key=lambda item: (type(item[0]).__name__, str(item[0])))


def to_graph(inventory: Inventory, show_vars: bool = False, start: str = "all") -> str:
    """``ansible-inventory --graph [--vars] [GROUP]``."""
    group = inventory.groups.get(start)
    if group is None:
        raise InputError(f"Pattern must be valid group name when using --graph, got {start!r}")
    lines: list[str] = []

    def name(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def show(variables: dict, depth: int) -> None:
        for key, value in _sorted_items(variables):
            lines.append(name(f"{{{key} = {value}}}", depth))

    def walk(group: Group, depth: int) -> None:
        lines.append(name(f"@{group.name}:", depth))
        depth += 1
        for kid in group.child_groups:
            walk(kid, depth)
        if group.name != "all":
            for host in group.host_list:
                lines.append(name(host.name, depth))
                if show_vars:
                    show(shown_vars(host), depth + 1)
        if show_vars:
            variables = inventory.group_vars(group.name)
            show({k: v for k, v in variables.items()
                  if not (isinstance(k, str) and k in INTERNAL_VARS)}, depth)

    walk(group, 0)
    return "\n".join(lines)


def host_json(inventory: Inventory, host_name: str) -> str:
    """``ansible-inventory --host NAME``."""
    host = inventory.hosts.get(host_name)
    if host is None:
        raise InputError(f"You must pass a single valid host to --host parameter: "
                         f"{host_name!r} is not in the inventory")
    return _dump(to_jsonable(shown_vars(host), wrap_unsafe=False))
