"""The call-option flags (``--batch``, ``--tries``, …), made from the one option table.

``orch call`` and ``orch play`` take them from here, so a flag means what a YAML step's key of
the same name means, with the same default and range (``orch.rpc.options``).
"""

from __future__ import annotations

import argparse

from orch.errors import Where
from orch.rpc import options

CALL_FLAGS = ("batch_size", "batch_sleep", "tries", "try_sleep", "timeout", "concurrency")


def add_call_flags(parser: argparse.ArgumentParser, names=CALL_FLAGS) -> None:
    """``--batch N``, ``--tries N``, … each documented with its default and range."""
    group = parser.add_argument_group("how to call (defaults shared with plays)")
    for name in names:
        option = options.BY_NAME[name]
        metavar = "N" if option.kind == "int" else "S"
        group.add_argument(option.flag, dest=name, metavar=metavar, default=None,
                           help=options.describe(name))


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Flags every fleet run takes: dry run, locks, first-seen host keys."""
    group = parser.add_argument_group("run")
    group.add_argument("--check", action="store_true", help=options.describe("check"))
    group.add_argument("--no-lock", dest="no_lock", action="store_true",
                       help="do not take the hosts' run locks (journaled; for emergencies)")
    group.add_argument("--accept-new", action="store_true",
                       help="trust and record first-seen host keys (changed keys are still refused)")


def options_from_args(args: argparse.Namespace, **fixed) -> options.CallOptions:
    """The CallOptions the flags (and ``fixed`` values) ask for; InputError naming the flag."""
    values = {name: getattr(args, name, None) for name in CALL_FLAGS}
    values.update(fixed)
    return options.CallOptions.build(
        values, lambda name: Where(path=options.BY_NAME[name].flag or name))
