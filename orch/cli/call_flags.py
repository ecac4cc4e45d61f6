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


def add_become_flags(parser: argparse.ArgumentParser) -> None:
    """Privilege escalation, as Ansible's: ``-b``, ``--become-user``, ``-K``, …"""
    group = parser.add_argument_group("privilege escalation (as Ansible's)")
    group.add_argument("-b", "--become", action="store_true", default=None,
                       help="run the runtime under sudo (su, doas) on every host; without it, "
                       "hosts whose inventory sets ansible_become escalate")
    group.add_argument("--become-user", metavar="USER", help=options.describe("become_user"))
    group.add_argument("--become-method", metavar="METHOD", help=options.describe("become_method"))
    group.add_argument("-K", "--ask-become-pass", action="store_true",
                       help="ask for the become password once, on the terminal")
    group.add_argument("--become-password-file", metavar="FILE",
                       help="read the become password from FILE (its first line)")


def become_from_args(args: argparse.Namespace, env) -> tuple[dict, str | None]:
    """The become options the flags give, and the password (asked once, or read from a file).

    The password is never put in the options, argv or environment: the run hands it to the
    session, which writes it to sudo's stdin, and masks it everywhere.
    """
    values = {"become": True if args.become else None, "become_user": args.become_user,
              "become_method": args.become_method}
    password = None
    if args.become_password_file:
        from pathlib import Path

        from orch.config import read_regular_file

        path = Path(args.become_password_file)
        if not path.is_absolute():
            path = Path(env.cwd) / path
        data = read_regular_file(path, "become password file", limit=64 * 1024,
                                 where=Where(path="--become-password-file"))
        password = data.decode("utf-8", "replace").split("\n", 1)[0].rstrip("\r")
    elif args.ask_become_pass:
        if not env.stdin_isatty:
            from orch.errors import InputError

            raise InputError("-K needs a terminal to ask on; use --become-password-file",
                             Where(path="-K"))
        import getpass

        password = getpass.getpass("BECOME password: ", stream=env.stderr)
    return {key: value for key, value in values.items() if value is not None}, password
