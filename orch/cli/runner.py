"""Glue between the CLI and the engine for ``orch call``: config, discovery, session, sink."""

from __future__ import annotations

import contextlib
import gc
import time

from orch.errors import ExitStatus, NothingMatched


def config_from_args(args, env):
    from orch.config import load_config

    flags = {}
    if getattr(args, "inventory", None):
        flags["inventory"] = args.inventory
    if getattr(args, "concurrency", None):
        flags["concurrency"] = args.concurrency
    return load_config(flags, env.environ, env.cwd)


def new_run_id() -> str:
    import secrets

    return time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def settle_heap() -> None:
    """Hide what is loaded before a fleet run (modules, config, inventory) from the collector.

    Those objects live until the process exits, yet every full collection during the run would
    walk them all again. Frozen, collections scan only what the run itself creates: about a
    tenth of the controller's CPU at 200 hosts (bench/REPORT.md, fix 14). Commands that call
    this set ``SETTLES_HEAP``: ``orch.cli.main`` then leaves the collector off until here.
    """
    gc.freeze()
    gc.enable()


async def execute_call(args, env, module: str, action: str, arguments: dict) -> int:
    """``orch call``: select, check the arguments, call, render; exit 0 only if all went well."""
    from orch.agents import load_registry
    from orch.cli.commands.discover import select_from_args
    from orch.config import parse_duration
    from orch.errors import Where
    from orch.output import events as ev
    from orch.output import make_sink
    from orch.rpc.session import RpcSession

    config = config_from_args(args, env)
    registry = load_registry(config)
    batch_sleep = parse_duration(args.batch_sleep, Where(path="--batch-sleep"))
    try_sleep = parse_duration(args.try_sleep, Where(path="--try-sleep"))
    timeout = parse_duration(args.timeout, Where(path="--timeout")) if args.timeout else None
    spec = registry.get(module)
    checked = spec.prepare_args(action, arguments)  # bad input fails before anything else
    secret = spec.sensitive_inputs(action)
    masked = {key: "********" if key in secret else value for key, value in checked.items()}
    hosts = select_from_args(args, env, config).hosts()
    if not args.identities:
        hosts = offering(hosts, module)
        if not hosts:
            raise NothingMatched(f"none of the selected hosts offers {module}")
    run_id = new_run_id()
    policy = "accept-new" if args.accept_new else None
    settle_heap()
    with journaled(config, make_sink(env, json=args.json, verbose=args.verbose)) as sink:
        async with RpcSession(config, registry, sink, run_id, host_key_policy=policy) as session:
            started = time.monotonic()
            sink(ev.RunStarted(run_id, f"call {module}.{action}", "call", masked, session.caller))
            sink(ev.Discovered("call", [h.name for h in hosts]))
            result = await session.call(
                "call", hosts, module, action, checked,
                batch_size=max(args.batch, 0), batch_sleep=batch_sleep,
                tries=max(args.tries, 1), try_sleep=try_sleep, timeout=timeout,
                summarize=args.summarize, hang_up=True)
            if not args.summarize and not args.json:
                _show_replies(result, sink)
            sink(_run_done(run_id, result, started))
    return ExitStatus.OK if result.all_ok else ExitStatus.HOSTS_FAILED


async def gather_facts(args, env, config) -> int:
    """``orch facts --gather``: ask the selected hosts for ``rpcutil.inventory``, cache the facts."""
    from orch.agents import load_registry
    from orch.cli.commands.discover import select_from_args
    from orch.facts import store_gathered
    from orch.output import events as ev
    from orch.output import make_sink
    from orch.rpc.session import RpcSession

    args.max_age = None  # gathering is how stale facts get fresh
    hosts = select_from_args(args, env, config).hosts()
    run_id = new_run_id()
    registry = load_registry(config)
    settle_heap()
    with journaled(config, make_sink(env, json=args.json, verbose=args.verbose)) as sink:
        async with RpcSession(config, registry, sink, run_id) as session:
            started = time.monotonic()
            sink(ev.RunStarted(run_id, "facts --gather", "call", {}, session.caller))
            result = await session.call("gather", hosts, "rpcutil", "inventory", {},
                                        hang_up=True)
            facts = {host: reply.data.get("facts") or {} for host, reply in result.ok.items()}
            count = store_gathered(config, facts) if facts else 0
            sink(_run_done(run_id, result, started,
                           f"gathered the facts of {count} host(s) into {config.fact_cache}"))
    return ExitStatus.OK if result.all_ok else ExitStatus.HOSTS_FAILED


@contextlib.contextmanager
def journaled(config, show):
    """The sink for a run: what the user sees, and the journal (``orch runs``) beside it."""
    from orch.journal import open_journal
    from orch.output import fan_out

    journal = open_journal(config.journal)
    try:
        yield fan_out(journal, show)
    finally:
        journal.close()


def _run_done(run_id: str, result, started: float, message: str = ""):
    from orch.output import events as ev

    failed = {h: f"{r.status}: {r.message}" for h, r in result.failed.items()}
    unreachable = {h: r.message for h, r in result.unreachable.items()}
    return ev.RunDone(run_id, not failed and not unreachable, failed, unreachable,
                      round(time.monotonic() - started, 3), message)


def offering(hosts: list, module: str) -> list:
    """Hosts that offer ``module``, as MCollective adds the agent filter to every call.

    A host whose inventory declares no ``agents`` is assumed to offer every module (plain
    Ansible inventories say nothing about agents); ``rpcutil`` is offered everywhere. Hosts
    named with ``-I`` are called as named: orch pushes the module, so any host can run it.
    """
    if module == "rpcutil":
        return list(hosts)
    return [host for host in hosts if not host.agents or module in host.agents]


def _show_replies(result, sink) -> None:
    """Group identical OK replies so 200 identical answers print once."""
    import json

    from orch.output import events as ev

    groups: dict[str, list[str]] = {}
    for host, reply in sorted(result.ok.items()):
        if reply.data:
            groups.setdefault(json.dumps(reply.data, sort_keys=True, default=str), []).append(host)
    if len(groups) > 20:
        return  # every host answered differently: the done line says enough
    for key, hosts in groups.items():
        sink(ev.RepliesGrouped("call", hosts, json.loads(key)))
