"""CLI glue shared by the fleet commands (call, play, facts --gather): config and the heap."""

from __future__ import annotations

import gc


def config_from_args(args, env):
    from orch.config import load_config

    flags = {}
    if getattr(args, "inventory", None):
        flags["inventory"] = args.inventory
    return load_config(flags, env.environ, env.cwd)


def settle_heap() -> None:
    """Hide what is loaded before a fleet run (modules, config, inventory) from the collector.

    Those objects live until the process exits, yet every full collection during the run would
    walk them all again. Frozen, collections scan only what the run itself creates: about a
    tenth of the controller's CPU at 200 hosts (bench/REPORT.md, fix 14). Commands that call
    this set ``SETTLES_HEAP``: ``orch.cli.main`` then leaves the collector off until here, and
    unfreezes the heap when the command is over.
    """
    gc.freeze()
    gc.enable()
