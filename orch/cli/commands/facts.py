"""``orch facts KEY``: a fact's distribution over the selected hosts; ``--import`` fills the cache."""

from __future__ import annotations

import argparse

from orch.cli.selection_flags import add_selection_flags

HELP = "fact value distribution over the fleet (-v: which hosts); --import/--gather fill the cache"
DESCRIPTION = """Report how the values of one fact are distributed over the selected hosts, as
'mco facts' does, from the inventory and the fact cache (no network):

  orch facts cluster                 # Report for fact: cluster / alfa  found 5 times ...
  orch facts os.release.major -v     # and which hosts have each value
  orch facts cluster -C web --json
  orch facts --import facts.json     # bulk load {"host": {"fact": value, ...}, ...}

Dotted keys reach nested facts. Hosts without the fact are not listed.
--max-age DURATION: refuse (exit 1, naming them) when a host left after -I, -A and -C has
cached facts older than DURATION or none at all.
--gather asks the selected live hosts (rpcutil.inventory) and refreshes the cache, classes
included (/etc/orch/classes, Puppet's classes.txt: -C and -S see them afterwards); --facter,
or 'fact_source = facter' in orch.cfg, also merges 'facter --json' where hosts have Facter.

Exit 0 when some selected host has the fact, 1 when none does (or nothing matched, or facts
are stale), 2 for bad input."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("fact", nargs="?", metavar="FACT", help="fact to report on (dotted for nested)")
    parser.add_argument("-v", "--verbose", action="store_true", help="name the hosts of each value")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--import", dest="import_file", metavar="FILE",
                        help="load {host: {facts}} from a JSON file into the fact cache")
    parser.add_argument("--gather", action="store_true",
                        help="refresh the fact cache from the selected live hosts")
    parser.add_argument("--facter", action="store_true",
                        help="with --gather: also run 'facter --json' on hosts that have it "
                             "(default: fact_source in orch.cfg)")
    parser.add_argument("--accept-new", action="store_true",
                        help="with --gather: trust and record first-seen host keys")
    add_selection_flags(parser)


def _import(path: str, env, config) -> int:
    import json
    from pathlib import Path

    from orch.errors import InputError, Where
    from orch.facts.cache import check_import, open_cache

    file = Path(path) if Path(path).is_absolute() else Path(env.cwd) / path
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read: {getattr(error, 'strerror', None) or error}", Where(path)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", Where(path, error.lineno, column=error.colno)) from None
    facts = check_import(data, Where(path))
    cache = open_cache(config.fact_cache)
    try:
        count = cache.put_many(facts)
    finally:
        cache.close()
    return count


async def gather(args, env, config, interrupt=None) -> int:
    """``orch facts --gather``: a one-step run of ``rpcutil.inventory``; OK replies' facts are
    stored in the fact cache."""
    from orch.agents import load_registry
    from orch.cli.commands.discover import select_from_args
    from orch.cli.runner import settle_heap
    from orch.facts import store_gathered
    from orch.output import events as ev
    from orch.output import make_sink
    from orch.play.lifecycle import Run, interrupted_call
    from orch.rpc.options import CallOptions

    args.max_age = None  # gathering is how stale facts get fresh
    hosts = select_from_args(args, env, config).hosts()
    registry = load_registry(config)
    shown = make_sink(env, json=args.json, verbose=args.verbose)
    answered: dict = {}  # host -> OK reply data, as it came: kept if an interrupt cuts the step

    def show(event) -> None:
        if isinstance(event, ev.HostReplied) and event.final and event.status == "OK":
            answered[event.host] = event.data if isinstance(event.data, dict) else {}
        shown(event)

    run = Run(config, registry, show,
              host_key_policy="accept-new" if getattr(args, "accept_new", False) else None,
              interrupt=interrupt)

    inputs = {"facter": True} if args.facter or config.fact_source == "facter" else {}

    async def body(engine) -> tuple[bool, str]:
        ok, _ = await engine.one_step("gather", hosts, "rpcutil", "inventory", inputs,
                                      CallOptions(), read_only=True)
        result = engine.last_result  # None when an interrupt cut the step off
        replied = ({host: reply.data for host, reply in result.ok.items()} if result is not None
                   else answered)
        facts = {host: data.get("facts") or {} for host, data in replied.items()}
        classes = {host: data["classes"] for host, data in replied.items()
                   if isinstance(data.get("classes"), list)}
        count = store_gathered(config, facts, classes=classes) if facts else 0
        return ok, f"gathered the facts of {count} host(s) into {config.fact_cache}"

    settle_heap()
    outcome = await run.execute("facts --gather", "call", {}, body)
    if outcome.status == "interrupted":
        env.stderr.write(interrupted_call(outcome, "orch facts --gather"))
    return outcome.exit_status


def run(args, env) -> int:
    from orch.cli.commands.discover import load_selection_config, select_from_args
    from orch.errors import InputError, Where

    config = load_selection_config(args, env)
    if args.gather:
        from orch.cli import eventloop
        from orch.play.lifecycle import Interrupt, signal_notice

        loop = eventloop.loop_factory(env.environ)
        interrupt = Interrupt(grace=config.interrupt_grace)
        return eventloop.run(gather(args, env, config, interrupt), loop, on_signal=signal_notice(
            env.stderr, interrupt, "the hosts not reached are reported NotRun (the facts "
            "gathered so far are kept)"))
    if args.import_file:
        count = _import(args.import_file, env, config)
        env.stderr.write(f"imported the facts of {count} host(s) into {config.fact_cache}\n")
        if not args.fact:
            return 0
    if not args.fact:
        raise InputError("name a fact to report on, e.g. 'orch facts cluster'", Where(path="FACT"))

    from orch.facts.report import distribution, render_json, render_text

    selection = select_from_args(args, env, config)
    rows = distribution(selection.value_groups(args.fact))
    if args.json:
        import json

        env.stdout.write(json.dumps(render_json(args.fact, rows, len(selection.names)),
                                    default=str) + "\n")
    else:
        env.stdout.write(render_text(args.fact, rows, len(selection.names), args.verbose))
    if not rows:
        env.error(f"none of the {len(selection.names)} selected host(s) has fact '{args.fact}'")
        return 1
    return 0
