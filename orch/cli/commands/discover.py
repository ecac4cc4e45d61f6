"""``orch discover [flags]``: the hosts a selection matches, offline, one name a line."""

from __future__ import annotations

import argparse

from orch.cli.selection_flags import add_selection_flags

HELP = "list the hosts that match the selection flags (offline: inventory + fact cache)"
DESCRIPTION = """List the hosts that match the selection flags, one name a line, in inventory order.

Reads the inventory and the fact cache (orch.cfg's fact_cache); never touches the network.
Facts are the inventory's 'facts' with the cached (gathered) facts merged over them.

  orch discover -F cluster=alfa -A appmgr
  orch discover -C haproxy
  orch discover -S 'cluster=alfa and (web or os.release.major>=12)' --json
  orch discover -I '/^dev\\d+$/' --limit 50%

-F operators: = == != < <= > >= =~ (numbers compare as numbers when both sides are numbers;
a missing fact matches no operator, != included); '-F k=/re/i' is a regex, case-sensitive
unless it ends in /i. -S: 'and', 'or', 'not' (or '!'), parentheses; bare words are classes.
-A rpcutil matches every host (rpcutil ships with the runtime).

--max-age DURATION: every host left after -I, -A and -C must have cached facts gathered
within DURATION (30m, 1h, 2d); otherwise nothing is listed and the stale hosts are named
(exit 1), since fact tests on old data could silently leave hosts out.

Exit 0 with at least one host, 1 when nothing matched (or facts are stale), 2 for a
malformed expression or bad input."""


def configure(parser: argparse.ArgumentParser) -> None:
    add_selection_flags(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON array of host names")


def load_selection_config(args, env):
    """The Config for a command with selection flags (``-i`` given → inventory from it)."""
    from orch.config import load_config

    flags = {"inventory": args.inventory} if getattr(args, "inventory", None) else {}
    return load_config(flags=flags, environ=env.environ, cwd=env.cwd)


def max_age_from_args(args) -> float | None:
    """``--max-age`` in seconds, or None; a bad duration is an InputError naming the flag."""
    from orch.config import parse_duration
    from orch.errors import Where

    text = getattr(args, "max_age", None)
    return None if text in (None, "") else parse_duration(text, Where(path="--max-age"))


def select_from_args(args, env, config=None):
    """Run the selection the flags describe; NothingMatched (exit 1) when no host matches.

    Returns ``orch.select.discovery.Selection`` (``.names``, ``.hosts()``); commands that
    target hosts (call, play) can reuse this so the flags mean the same everywhere.
    """
    from orch.errors import NothingMatched
    from orch.select import Filter
    from orch.select.discovery import select

    config = config or load_selection_config(args, env)
    filter = Filter.from_args(args)
    selection = select(config, filter, max_age=max_age_from_args(args))
    if not selection.names:
        raise NothingMatched(f"no host matched {filter.describe()}{_why_nothing(config, filter)}")
    return selection


def _why_nothing(config, filter) -> str:
    """`` (no selected host has fact 'clustr')`` when a -F names a fact no host has: the
    likeliest reason for an empty match is a typo in the fact's name."""
    from orch.errors import InputError
    from orch.select import Filter
    from orch.select.discovery import select
    from orch.select.facts_match import parse_fact_expression

    try:
        keys = [parse_fact_expression(text).key for text in filter.facts]
        if not keys:
            return ""
        everyone = select(config, Filter(classes=filter.classes, identities=filter.identities,
                                         agents=filter.agents))
        selected = set(everyone.names)
        missing = [key for key in keys
                   if not any(set(hosts) & selected for _, hosts in everyone.value_groups(key))]
    except InputError:
        return ""
    if not missing:
        return ""
    return " (" + "; ".join(f"no selected host has fact {key!r}" for key in missing) + ")"


def run(args, env) -> int:
    selection = select_from_args(args, env)
    if args.json:
        import json

        env.stdout.write(json.dumps(selection.names) + "\n")
    else:
        env.stdout.write("".join(name + "\n" for name in selection.names))
    return 0
