"""``orch call module.action k=v …``: one action on the selected hosts, in parallel."""

from __future__ import annotations

import argparse

from orch.cli.call_flags import (
    add_become_flags,
    add_call_flags,
    add_run_flags,
    become_from_args,
    options_from_args,
)
from orch.cli.selection_flags import add_selection_flags
from orch.errors import InputError, Where

SETTLES_HEAP = True  # see orch.cli.runner.settle_heap
HELP = "call module.action on the selected hosts in parallel"
DESCRIPTION = """Call one action of a module on every selected host, in parallel.

Arguments are k=v pairs, checked against the module's declaration before anything is sent
(numbers, lists as a,b,c, booleans as true/false). Examples:

  orch call rpcutil.ping
  orch call haproxy.disable backend=app server=dev2,dev4 -C haproxy
  orch call appmgr.upgrade revision=20 -F cluster=alfa --batch 2 --tries 2
  orch call appmgr.status -F cluster=alfa --summarize

Hosts whose inventory lists `agents` are called only if they offer the module (as MCollective
adds the agent filter), unless they are named with -I. Hosts that list no `agents` offer every
module (orch sends it), here and for -A alike.

A changing action takes the hosts' run locks, as a play does, and is refused while another run
holds one; read-only actions (rpcutil, *.status, those declared read_only) take none.
--check sends the request in check mode: actions that support it report what they would
change; the others are skipped on every host. The options --batch, --tries, --try-sleep, ...
mean what the same keys of a play step mean, with the same defaults.

Exit 0 when every host answered OK, 1 when some failed or were unreachable, 2 for bad input."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE.ACTION", help="e.g. rpcutil.ping")
    parser.add_argument("arguments", nargs="*", metavar="K=V", help="action inputs")
    add_selection_flags(parser)
    add_call_flags(parser)
    add_run_flags(parser)
    add_become_flags(parser)
    out = parser.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", help="a line per host")
    out.add_argument("--summarize", action="store_true", help="print the action's aggregate summaries")
    out.add_argument("--json", action="store_true", help="JSON Lines, one object per event")


def parse_arguments(items: list[str]) -> dict[str, str]:
    """``['backend=app', 'server=dev2,dev4']`` → ``{'backend': 'app', 'server': 'dev2,dev4'}``."""
    args: dict[str, str] = {}
    for index, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum() or not key.isascii():
            raise InputError(f"expected K=V, got {item!r}", Where(path=f"argument {index + 1}"))
        args[key] = value
    return args


def run(args, env) -> int:
    from orch.cli import eventloop

    module, dot, action = args.target.partition(".")
    if not dot or not module or not action:
        raise InputError(f"expected MODULE.ACTION such as rpcutil.ping, got {args.target!r}")
    loop = eventloop.loop_factory(env.environ)
    return eventloop.run(execute(args, env, module, action, parse_arguments(args.arguments)), loop)


async def execute(args, env, module: str, action: str, arguments: dict) -> int:
    """Select, check the arguments and options, then run one step; exit 0 only if all went well."""
    from orch.agents import load_registry
    from orch.cli.commands.discover import select_from_args
    from orch.cli.runner import config_from_args, settle_heap
    from orch.errors import NothingMatched
    from orch.masking import Masker
    from orch.output import make_sink
    from orch.play.lifecycle import Run
    from orch.select.offers import offering

    config = config_from_args(args, env)
    registry = load_registry(config)
    become, password = become_from_args(args, env)
    options = options_from_args(args, verbose=args.verbose, summarize=args.summarize,
                                check=args.check, lock=not args.no_lock, **become)
    spec = registry.get(module)
    checked = spec.prepare_args(action, arguments)  # bad input fails before anything else
    secret = spec.sensitive_inputs(action)
    shown = {key: ("********" if key in secret else value) for key, value in checked.items()}
    hosts = select_from_args(args, env, config).hosts()
    if not args.identities:
        hosts = offering(hosts, module)
        if not hosts:
            raise NothingMatched(f"none of the selected hosts offers {module}")
    masker = Masker(value for key, value in checked.items() if key in secret)
    if password:
        masker.add(password)
    run = Run(config, registry, make_sink(env, json=args.json, verbose=args.verbose),
              masker=masker, become_password=password,
              host_key_policy="accept-new" if args.accept_new else None, check=args.check,
              locking=not args.no_lock)
    read_only = spec.flag(action, "read_only")
    if args.no_lock and not read_only:
        shown = {**shown, "--no-lock": True}  # journaled with the run's inputs
    settle_heap()
    outcome = await run.execute(
        f"call {module}.{action}", "call", shown,
        lambda engine: engine.one_step("call", hosts, module, action, checked, options,
                                       read_only=read_only))
    return outcome.exit_status
