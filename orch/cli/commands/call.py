"""``orch call module.action k=v …``: one action on the selected hosts, in parallel."""

from __future__ import annotations

import argparse

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
adds the agent filter), unless they are named with -I.

Exit 0 when every host answered OK, 1 when some failed or were unreachable, 2 for bad input."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE.ACTION", help="e.g. rpcutil.ping")
    parser.add_argument("arguments", nargs="*", metavar="K=V", help="action inputs")
    add_selection_flags(parser)
    run = parser.add_argument_group("how to call")
    run.add_argument("--batch", type=int, default=0, metavar="N", help="call N hosts at a time")
    run.add_argument("--batch-sleep", default="0", metavar="S", help="pause between batches")
    run.add_argument("--tries", type=int, default=1, metavar="N", help="tries per host (default 1)")
    run.add_argument("--try-sleep", default="1", metavar="S", help="pause between tries (default 1s)")
    run.add_argument("--timeout", metavar="S", help="request timeout (default: the module's)")
    run.add_argument("--concurrency", type=int, metavar="N", help="hosts in flight at once (default 100)")
    run.add_argument("--accept-new", action="store_true",
                     help="trust and record first-seen host keys (changed keys are still refused)")
    out = parser.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", help="a line per host")
    out.add_argument("--summarize", action="store_true", help="print the action's aggregate summaries")
    out.add_argument("--json", action="store_true", help="JSON Lines, one object per event")


def parse_arguments(items: list[str]) -> dict[str, str]:
    """``['backend=app', 'server=dev2,dev4']`` → ``{'backend': 'app', 'server': 'dev2,dev4'}``."""
    args: dict[str, str] = {}
    for index, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum():
            raise InputError(f"expected K=V, got {item!r}", Where(path=f"argument {index + 1}"))
        args[key] = value
    return args


def run(args, env) -> int:
    from orch.cli import eventloop
    from orch.cli.runner import execute_call

    module, dot, action = args.target.partition(".")
    if not dot or not module or not action:
        raise InputError(f"expected MODULE.ACTION such as rpcutil.ping, got {args.target!r}")
    loop = eventloop.loop_factory(env.environ)
    return eventloop.run(execute_call(args, env, module, action, parse_arguments(args.arguments)),
                         loop)
