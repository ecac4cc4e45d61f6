"""The ``orch`` command line: parse, dispatch to a command, turn errors into one line.

Each command lives in ``orch/cli/commands/<name>.py`` with ``HELP`` (one line), ``configure(parser)``
and ``run(args, env) -> int``. Command modules import heavy libraries (SSH, rich, jinja2)
inside ``run`` so ``orch --help`` stays fast. This is the only place that catches OrchError.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys

from orch.errors import ExitStatus, OrchError

# Order is the order of ``orch --help``.
COMMANDS = ("play", "call", "discover", "facts", "inventory", "agents", "runs", "lab", "host",
            "ssh-config")


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting; ``main`` prints the usage
    line once and the error on one line."""

    def error(self, message: str):
        prefix = "" if self.prog == "orch" else f"{self.prog}: "
        raise UsageError(prefix + message, self.format_usage())


class UsageError(Exception):
    def __init__(self, message: str, usage: str = ""):
        super().__init__(message)
        self.usage = usage


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole ``orch`` parser, or with ``only`` the one subcommand a run needs.

    Configuring every subcommand imports its module and runs argparse's (and gettext's) setup
    for each flag: about 10 ms that a fleet run would spend on commands it does not run.
    """
    parser = _Parser(
        prog="orch",
        description="Agentless fleet orchestration over plain SSH: discover hosts by class, fact "
        "and agent, call typed actions on them in parallel, in batches, with retries, and "
        "run plays such as a rolling upgrade behind HAProxy.",
        epilog="Run 'orch COMMAND --help' for a command's flags. Exit codes: 0 all went well, "
        "1 some host failed or was unreachable (or nothing matched), 2 bad input.",
    )
    parser.add_argument("--traceback", action="store_true", help="show the Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parser._subcommands = {}
    for name in (only,) if only else COMMANDS:
        module = importlib.import_module(f"orch.cli.commands.{name.replace('-', '_')}")
        command_parser = sub.add_parser(
            name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command_parser.add_argument("--traceback", action="store_true", help=argparse.SUPPRESS)
        module.configure(command_parser)
        command_parser.set_defaults(_module=module)
        parser._subcommands[name] = command_parser
    return parser


def main(argv: list[str] | None = None, env=None) -> int:
    """Run one orch command and return its exit code; never raises for an expected error."""
    collecting = gc.isenabled()
    gc.disable()  # start-up makes long-lived objects only; a fleet run re-enables (settle_heap)
    try:
        return _main(argv, env)
    finally:
        gc.unfreeze()  # a fleet command froze its start-up heap (runner.settle_heap)
        if collecting:
            gc.enable()


def _main(argv: list[str] | None, env) -> int:
    from orch.cli.env import Environment

    env = env or Environment()
    argv = sys.argv[1:] if argv is None else argv
    command = _command_named(argv)
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        if str(error).startswith("unrecognized arguments"):
            # An unknown flag: the command's usage line once, so the right spelling is at hand.
            usage = error.usage
            if command and command in parser._subcommands:
                usage = parser._subcommands[command].format_usage()
            env.stderr.write(usage)
        env.error(str(error))
        return ExitStatus.BAD_INPUT
    if not getattr(args, "command", None):
        parser.print_help(env.stdout)
        return ExitStatus.BAD_INPUT
    if not getattr(args._module, "SETTLES_HEAP", False):
        gc.enable()
    try:
        return int(args._module.run(args, env))
    except OrchError as error:
        if args.traceback:
            raise
        env.error(str(error))
        return int(error.exit_status)
    except KeyboardInterrupt:
        env.error("interrupted")
        return 130
    except BrokenPipeError:
        return ExitStatus.HOSTS_FAILED


def _command_named(argv: list[str]) -> str | None:
    """The subcommand of ``argv`` when nothing before it needs the full parser (help, typos)."""
    for word in argv:
        if word in COMMANDS:
            return word
        if word != "--traceback":
            return None
    return None


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
