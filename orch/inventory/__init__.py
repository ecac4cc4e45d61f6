"""The inventory: Ansible YAML/INI inventories read exactly as Ansible reads them.

``load_inventory(paths) -> Inventory``; ``Inventory.hosts`` / ``.groups`` by name; each Host
gives its effective ``vars``, ``groups``, connection settings (``address``, ``port``, ``user``,
``key``) and orch's own keys (``facts``, ``classes``, ``agents``). ``to_list_json()``,
``to_graph()`` and ``host_json()`` print what ``ansible-inventory`` prints. PyYAML is imported
only when a YAML source is read, so INI inventories load without it.
"""

from orch.inventory.loader import load_inventory
from orch.inventory.model import Group, Host, Inventory, InventoryError, UnsafeText

__all__ = ["Group", "Host", "Inventory", "InventoryError", "UnsafeText", "load_inventory"]
