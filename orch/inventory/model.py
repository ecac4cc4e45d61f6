"""Hosts, groups and the inventory that ties them, built the way Ansible's InventoryData builds it.

The builder methods (``add_group``, ``add_host``, ``set_variable``, ``add_child``,
``reconcile``) follow ``ansible.inventory.data``/``group``/``host`` (ansible-core 2.19) rule for
rule, quirks included (a host var set on a name that is also a group lands on the group, as in
Ansible), because users bring inventories whose meaning Ansible defines.

What differs is cost: Ansible keeps on every host the list of its groups and ancestors; here a
host keeps only the groups it was put in, and everything derived (ancestors, effective vars,
classes) is computed on first use and shared by all hosts with the same groups, so that a range
of 100,000 hosts loads in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping

from orch.errors import InputError, Where


class InventoryError(Exception):
    """A rule of Ansible's inventory broken; the loader adds the file and line."""


class UnsafeText(str):
    """A string from YAML's ``!unsafe``: never templated; ansible-inventory prints it wrapped."""

    __slots__ = ()


class Group:
    """A group: its own vars, its hosts (in order added), children and parents."""

    __slots__ = ("name", "vars", "child_groups", "parent_groups", "host_list", "_host_names",
                 "depth", "priority", "_ancestors", "plugin_vars")

    def __init__(self, name: str):
        self.name = name
        self.vars: dict = {}
        self.child_groups: list[Group] = []
        self.parent_groups: list[Group] = []
        self.host_list: list[Host] = []
        self._host_names: set[str] = set()
        self.depth = 0
        self.priority = 1
        self._ancestors: frozenset[Group] | None = None
        self.plugin_vars: dict | None = None  # from group_vars/ beside the inventory

    def __repr__(self) -> str:
        return f"Group({self.name!r})"

    @property
    def hosts(self) -> list[str]:
        """Names of the hosts put directly in this group, in inventory order."""
        return [host.name for host in self.host_list]

    @property
    def children(self) -> list[str]:
        return [group.name for group in self.child_groups]

    @property
    def parents(self) -> list[str]:
        return [group.name for group in self.parent_groups]

    def ancestors(self) -> frozenset[Group]:
        """Every group above this one (``all`` included once reconciled)."""
        if self._ancestors is not None:
            return self._ancestors
        seen: set[Group] = set()
        todo = list(self.parent_groups)
        while todo:
            group = todo.pop()
            if group not in seen:
                seen.add(group)
                todo.extend(group.parent_groups)
        return frozenset(seen)

    def descendants(self) -> list[Group]:
        """This group and every group below it, breadth first (Ansible's preserve_ordering)."""
        ordered = [self]
        seen = {self}
        layer = list(self.child_groups)
        ordered.extend(g for g in layer if g not in seen)
        while layer:
            seen.update(layer)
            new_layer = []
            for group in layer:
                for kid in group.child_groups:
                    if kid not in seen and kid not in new_layer:
                        new_layer.append(kid)
                        ordered.append(kid)
            layer = new_layer
        return ordered

    def all_hosts(self) -> list[Host]:
        """Hosts of this group and of its descendants, each once."""
        result: list[Host] = []
        seen: set[str] = set()
        for group in self.descendants():
            for host in group.host_list:
                if host.name not in seen:
                    seen.add(host.name)
                    result.append(host)
        return result

    def add_child_group(self, group: Group) -> bool:
        if self is group:
            raise InventoryError(f"can't add group '{self.name}' to itself")
        if any(kid is group for kid in self.child_groups):
            return False
        if group in self.ancestors():
            raise InventoryError(f"Adding group '{group.name}' as child to '{self.name}' creates a "
                                 "recursive dependency loop.")
        self.child_groups.append(group)
        group.depth = max(self.depth + 1, group.depth)
        group._check_children_depth()
        if self.name not in [parent.name for parent in group.parent_groups]:
            group.parent_groups.append(self)
        return True

    def _check_children_depth(self) -> None:
        depth = start_depth = self.depth
        seen: set[Group] = set()
        unprocessed = set(self.child_groups)
        while unprocessed:
            seen.update(unprocessed)
            depth += 1
            current, unprocessed = unprocessed, set()
            for group in current:
                if group.depth < depth:
                    group.depth = depth
                    unprocessed.update(group.child_groups)
            if depth - start_depth > len(seen):
                raise InventoryError(f"The group named '{self.name}' has a recursive dependency "
                                     "loop.")

    def add_host(self, host: Host) -> bool:
        if host.name in self._host_names:
            return False
        self.host_list.append(host)
        self._host_names.add(host.name)
        host.direct_groups = host.direct_groups + (self,)
        return True

    def remove_host(self, host: Host) -> None:
        if host.name in self._host_names:
            self._host_names.discard(host.name)
            self.host_list = [h for h in self.host_list if h is not host]
            host.direct_groups = tuple(g for g in host.direct_groups if g is not self)

    def set_variable(self, key, value) -> None:
        if key == "ansible_group_priority":
            try:  # Ansible calls int(value) outside its own try: None or a list is an error too
                self.priority = int(value)
            except (TypeError, ValueError, OverflowError) as error:
                raise InventoryError(f"{error} (ansible_group_priority of group '{self.name}' "
                                     "must be an integer)") from None
        else:
            self.vars[key] = value


class Host:
    """One host. ``vars`` are the effective variables (precedence applied), computed on use."""

    __slots__ = ("name", "own_vars", "direct_groups", "plugin_vars", "_inventory", "_own")

    def __init__(self, name: str, port: int | None = None, inventory: Inventory | None = None,
                 groups: tuple = ()):
        self.name = name
        self.own_vars: dict | None = None
        self.direct_groups: tuple[Group, ...] = groups
        self.plugin_vars: dict | None = None  # from host_vars/ beside the inventory
        self._inventory = inventory
        self._own: _HostViews | None = None  # views of a host with vars of its own
        if port:
            self.set_variable("ansible_port", int(port))

    def __repr__(self) -> str:
        return f"Host({self.name!r})"

    def set_variable(self, key, value) -> None:
        if self.own_vars is None:
            self.own_vars = {}
        self.own_vars[key] = value

    # -- derived views (the inventory is complete once load_inventory returns) --------------
    def _views(self) -> _HostViews:
        """Shared views for hosts without vars of their own; a private one otherwise."""
        profile = self._inventory._profile(self.direct_groups)
        if self.own_vars is None and self.plugin_vars is None:
            return profile
        if self._own is None:
            own = {**(self.own_vars or {}), **(self.plugin_vars or {})}
            views = _HostViews(profile.names, {**profile.vars, **own})
            # what the host does not set itself it shares with its groups
            if "facts" not in own:
                views._facts = profile.facts
            if "classes" not in own:
                views._classes = profile.classes
            if "agents" not in own:
                views._agents = profile.agents
            self._own = views
        return self._own

    @property
    def vars(self) -> dict:
        """Effective variables, lowest first: ``all``, groups by (depth, priority, name),
        ``group_vars/all``, ``group_vars/<group>`` in that order, the host, ``host_vars/<host>``.

        Hosts without variables of their own share one dict per set of groups: treat as read-only.
        """
        return self._views().vars

    @property
    def groups(self) -> tuple[str, ...]:
        """Every group the host is in, ancestors included, ``all`` excluded, in precedence order."""
        return self._inventory._profile(self.direct_groups).names

    @property
    def address(self) -> str:
        """Where to connect: ``ansible_host`` (or the older ``ansible_ssh_host``), else the name."""
        variables = self.vars
        value = variables.get("ansible_host", variables.get("ansible_ssh_host"))
        return str(value) if value not in (None, "") else self.name

    @property
    def port(self) -> int:
        variables = self.vars
        value = variables.get("ansible_port", variables.get("ansible_ssh_port"))
        if value in (None, ""):
            return 22
        try:
            port = int(value)
        except (TypeError, ValueError):
            port = -1
        if not 0 < port < 65536:
            raise InputError(f"ansible_port must be a port number, got {value!r}",
                             Where(path=f"host {self.name}: ansible_port"))
        return port

    @property
    def user(self) -> str | None:
        variables = self.vars
        value = variables.get("ansible_user", variables.get("ansible_ssh_user"))
        return str(value) if value not in (None, "") else None

    @property
    def key(self) -> str | None:
        variables = self.vars
        value = variables.get("ansible_ssh_private_key_file",
                              variables.get("ansible_private_key_file"))
        return str(value) if value not in (None, "") else None

    @property
    def facts(self) -> dict:
        """Static facts from the ``facts`` var (a mapping; anything else counts as none).
        Shared between hosts: treat as read-only."""
        return self._views().facts

    @property
    def classes(self) -> frozenset[str]:
        """The ``classes`` var plus the names of every group the host is in."""
        return self._views().classes

    @property
    def agents(self) -> frozenset[str]:
        """Modules the host offers, from the ``agents`` var."""
        return self._views().agents


class _HostViews:
    """Effective vars and what orch derives from them, computed once per distinct vars."""

    __slots__ = ("names", "vars", "_facts", "_classes", "_agents")

    def __init__(self, names: tuple[str, ...], variables: dict):
        self.names = names
        self.vars = variables
        self._facts: dict | None = None
        self._classes: frozenset[str] | None = None
        self._agents: frozenset[str] | None = None

    @property
    def facts(self) -> dict:
        if self._facts is None:
            value = self.vars.get("facts")
            self._facts = value if isinstance(value, dict) else {}
        return self._facts

    @property
    def classes(self) -> frozenset[str]:
        if self._classes is None:
            self._classes = frozenset(_names(self.vars.get("classes"))) | frozenset(self.names)
        return self._classes

    @property
    def agents(self) -> frozenset[str]:
        if self._agents is None:
            self._agents = frozenset(_names(self.vars.get("agents")))
        return self._agents


def _names(value) -> list[str]:
    """A list var given as a YAML list, one string, or a comma-separated INI string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, list | tuple | set):
        return [str(item) for item in value if item is not None]
    return [str(value)]


class _GroupProfile(_HostViews):
    """What every host with the same direct groups shares: groups in order and merged vars."""

    __slots__ = ()

    def __init__(self, all_group: Group | None, direct: tuple[Group, ...]):
        closure: set[Group] = set()
        for group in direct:
            closure.add(group)
            closure.update(group.ancestors())
        ordered = sorted((g for g in closure if g.name != "all"),
                         key=lambda g: (g.depth, g.priority, g.name))
        merged: dict = dict(all_group.vars) if all_group is not None else {}
        for group in ordered:
            merged.update(group.vars)
        if all_group is not None and all_group.plugin_vars:
            merged.update(all_group.plugin_vars)
        for group in ordered:
            if group.plugin_vars:
                merged.update(group.plugin_vars)
        super().__init__(tuple(g.name for g in ordered), merged)


class Inventory:
    """Hosts and groups by name, in the order Ansible creates them."""

    def __init__(self) -> None:
        self.groups: dict[str, Group] = {}
        self.hosts: dict[str, Host] = {}
        self.sources: list[str] = []
        self._profiles: dict[tuple, _GroupProfile] = {}
        for name in ("all", "ungrouped"):
            self.add_group(name)
        self.add_child("all", "ungrouped")

    # -- Ansible's InventoryData API -------------------------------------------------------
    def add_group(self, name) -> str:
        if not name:
            raise InventoryError(f"Invalid empty/false group name provided: {name!r}")
        if not isinstance(name, str):
            raise InventoryError(f"Invalid group name supplied, expected a string but got "
                                 f"{type(name).__name__} for {name!r}")
        if name not in self.groups:
            self.groups[name] = Group(name)
        return name

    def add_host(self, name, group: str | None = None, port: int | None = None) -> str:
        if not name:
            raise InventoryError(f"Invalid empty host name provided: {name!r}")
        if not isinstance(name, str):
            raise InventoryError(f"Invalid host name supplied, expected a string but got "
                                 f"{type(name).__name__} for {name!r}")
        target = None
        if group:
            target = self.groups.get(group)
            if target is None:
                raise InventoryError(f"Could not find group {group} in inventory")
        host = self.hosts.get(name)
        if host is None:
            host = Host(name, port, self)
            self.hosts[name] = host
        if target is not None:
            target.add_host(host)
        return name

    def set_variable(self, entity, key, value) -> None:
        """Set a var on the group named ``entity``, else on the host (groups win, as in Ansible)."""
        if entity in self.groups:
            self.groups[entity].set_variable(key, value)
        elif entity in self.hosts:
            self.hosts[entity].set_variable(key, value)
        else:
            raise InventoryError(f"Could not identify group or host named {entity}")

    def add_child(self, group, child) -> bool:
        parent = self.groups.get(group) if isinstance(group, str) else None
        if parent is None:
            raise InventoryError(f"{group} is not a known group")
        if isinstance(child, str) and child in self.groups:
            return parent.add_child_group(self.groups[child])
        if isinstance(child, str) and child in self.hosts:
            return parent.add_host(self.hosts[child])
        raise InventoryError(f"{child} is not a known host nor group")

    def reconcile(self) -> None:
        """Ansible's reconcile_inventory: parentless groups go under ``all``, groupless hosts
        under ``ungrouped``, and hosts that found a real group leave ``ungrouped``."""
        all_group = self.groups["all"]
        ungrouped = self.groups["ungrouped"]
        for group in list(self.groups.values()):
            if group is not all_group and not group.parent_groups:
                self.add_child("all", group.name)
        self._freeze()
        # Only hosts put in ungrouped or directly in all can change: look at those alone, so
        # 100,000 hosts in real groups cost nothing here.
        for host in list(ungrouped.host_list):
            if self._closure(host) - {all_group, ungrouped}:
                ungrouped.remove_host(host)
        for host in list(all_group.host_list):
            mine = self._closure(host)
            if ungrouped not in mine and (not mine or mine == {all_group}):
                self.add_child("ungrouped", host.name)
                if host.name in self.groups:  # Ansible adds the same-named group instead
                    self._freeze()
        self._freeze()

    @staticmethod
    def _closure(host: Host) -> set[Group]:
        found: set[Group] = set()
        for group in host.direct_groups:
            found.add(group)
            found.update(group.ancestors())
        return found

    def _freeze(self, forget_host_views: bool = False) -> None:
        """Cache every group's ancestors: the graph no longer changes after loading."""
        for group in self.groups.values():
            group._ancestors = None
        for group in self.groups.values():
            group._ancestors = group.ancestors()
        self._profiles = {}
        if forget_host_views:
            for host in self.hosts.values():
                host._own = None

    def _unfreeze(self) -> None:
        for group in self.groups.values():
            group._ancestors = None
        self._profiles = {}

    def _profile(self, direct: tuple[Group, ...]) -> _GroupProfile:
        profile = self._profiles.get(direct)
        if profile is None:
            profile = self._profiles[direct] = _GroupProfile(self.groups.get("all"), direct)
        return profile

    def add_new_hosts(self, names: list[str], group: str) -> bool:
        """Fast path for a range line: many hosts, none known yet, no port, one group.

        Same result as ``add_host`` per name; returns False (doing nothing) when the names are
        not all new and distinct, so the caller takes the one-by-one path.
        """
        hosts = self.hosts
        target = self.groups[group]
        if len(set(names)) != len(names) or not hosts.keys().isdisjoint(names):
            return False
        if not all(names):
            return False
        groups = (target,)
        new = [Host(name, None, self, groups) for name in names]
        hosts.update(zip(names, new, strict=True))
        target.host_list.extend(new)
        target._host_names.update(names)
        return True

    # -- views for users of the inventory --------------------------------------------------
    def group_vars(self, name: str) -> dict:
        """A group's own vars as ansible-inventory shows them (priority included if not 1)."""
        group = self.groups[name]
        result = {**group.vars, **(group.plugin_vars or {})}
        if group.priority != 1:
            result["ansible_group_priority"] = group.priority
        return result

    def to_list_json(self) -> str:
        from orch.inventory.render import to_list_json

        return to_list_json(self)

    def to_graph(self, show_vars: bool = False, start: str = "all") -> str:
        from orch.inventory.render import to_graph

        return to_graph(self, show_vars=show_vars, start=start)

    def host_json(self, name: str) -> str:
        from orch.inventory.render import host_json

        return host_json(self, name)


def is_mapping(value) -> bool:
    return isinstance(value, Mapping)
