"""Host selection: MCollective's -C -F -I -A -S filters and --limit, offline.

``Filter`` holds the flags as given; ``Filter.compile()`` parses them (InputError when
malformed); ``discover(config, filter)`` applies them to the inventory and the fact cache.
"""

from orch.select.filter import Filter, Selector, select_records

__all__ = ["Filter", "Selector", "discover", "select_records"]


def __getattr__(name: str):
    if name == "discover":
        from orch.select.discovery import discover

        return discover
    raise AttributeError(name)
