"""Which hosts offer a module: one rule for ``orch call`` and for ``-A`` alike.

A host offers the modules its inventory ``agents`` lists, and ``rpcutil`` (it ships with the
runtime, as MCollective's rpcutil ran on every node). A host whose inventory lists no
``agents`` offers every module: orch sends the module with the request, and plain Ansible
inventories say nothing about agents.
"""

from __future__ import annotations

from collections.abc import Iterable

#: modules every host offers whatever its ``agents`` say
ALWAYS_OFFERED = frozenset({"rpcutil"})


def offers(agents: Iterable[str], module: str) -> bool:
    """Whether a host with these ``agents`` offers ``module``."""
    agents = frozenset(agents)
    return not agents or module in agents or module in ALWAYS_OFFERED


def offering(hosts: list, module: str) -> list:
    """The hosts that offer ``module``, in their order."""
    return [host for host in hosts if offers(host.agents, module)]
