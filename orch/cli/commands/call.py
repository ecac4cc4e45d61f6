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
  orch call file.write path=/etc/motd src=motd.j2 --check --diff
  orch call file.fetch path=/etc/hostname --dest fetched/

Inputs a module declares as local files (file.write's src=) are read on the controller (a
relative path from the current folder) and sent as content; a *.j2 file, or template=true, is
a Jinja2 template rendered for each host with its facts and inventory variables. --diff shows
the unified diffs replies carry (file.write's and file.line's, never for sensitive=true
content). --dest DIR saves what file.fetch returns as DIR/<host>/<path> (1 MiB at most per file, checked here too).

Hosts whose inventory lists `agents` are called only if they offer the module (as MCollective
adds the agent filter), unless they are named with -I. Hosts that list no `agents` offer every
module (orch sends it), here and for -A alike.

A changing action takes the hosts' run locks, as a play does, and is refused while another run
holds one; read-only actions (rpcutil, *.status, those declared read_only) take none.
--check sends the request in check mode: actions that support it report what they would
change; the others are skipped on every host. The options --batch, --tries, --try-sleep, ...
mean what the same keys of a play step mean, with the same defaults.

SIGINT or SIGTERM (Ctrl-C) stops the call as it stops a play: no new batch starts, requests
in flight get interrupt_grace (ORCH_INTERRUPT_GRACE, 10 s) to end, a second signal cancels
them at once; hosts left without a reply are reported NotRun, the journal run is
'interrupted', and stderr names the hosts to call again.

Exit 0 when every host answered OK, 1 when some failed or were unreachable, 2 for bad input,
130/143 when interrupted by SIGINT/SIGTERM."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="MODULE.ACTION", help="e.g. rpcutil.ping")
    parser.add_argument("arguments", nargs="*", metavar="K=V", help="action inputs")
    add_selection_flags(parser)
    add_call_flags(parser)
    add_run_flags(parser)
    add_become_flags(parser)
    parser.add_argument("--input-file", action="append", default=[], metavar="NAME=PATH",
                        help="take input NAME's value from the file PATH (one trailing newline "
                        "dropped), or with PATH '-' ask for it on the terminal without echo: "
                        "keeps secrets such as user.present's password_hash out of argv and "
                        "shell history (repeat)")
    out = parser.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", help="a line per host")
    out.add_argument("--summarize", action="store_true", help="print the action's aggregate summaries")
    out.add_argument("--json", action="store_true", help="JSON Lines, one object per event")
    out.add_argument("--diff", action="store_true",
                     help="show the unified diffs of changed files (file.write)")
    out.add_argument("--dest", metavar="DIR",
                     help="file.fetch: save each host's file as DIR/<host>/<path>")


def parse_arguments(items: list[str]) -> dict[str, str]:
    """``['backend=app', 'server=dev2,dev4']`` → ``{'backend': 'app', 'server': 'dev2,dev4'}``."""
    args: dict[str, str] = {}
    for index, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep or not key or not key.replace("_", "").isalnum() or not key.isascii():
            raise InputError(f"expected K=V, got {item!r}", Where(path=f"argument {index + 1}"))
        args[key] = value
    return args


def read_input_files(items: list[str], arguments: dict[str, str], env) -> dict[str, str]:
    """``--input-file NAME=PATH`` values added to ``arguments`` (a NAME given twice is an error)."""
    from pathlib import Path

    from orch.config import read_regular_file

    found = dict(arguments)
    for item in items:
        where = Where(path="--input-file")
        name, sep, path = item.partition("=")
        if not sep or not name or not path or not name.replace("_", "").isalnum():
            raise InputError(f"expected NAME=PATH, got {item!r}", where)
        if name in found:
            raise InputError(f"input {name} is given twice", where)
        if path == "-":
            if not env.stdin_isatty:
                raise InputError(f"{name}=- needs a terminal to ask on; give a file", where)
            import getpass

            found[name] = getpass.getpass(f"{name}: ", stream=env.stderr)
            continue
        source = Path(path) if Path(path).is_absolute() else Path(env.cwd) / path
        data = read_regular_file(source, f"{source} (input {name})", limit=4 * 1024 * 1024,
                                 where=where)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{source}: not UTF-8 text (for bytes use content_b64)",
                             where) from None
        found[name] = text[:-1] if text.endswith("\n") else text
    return found


def run(args, env) -> int:
    from orch.cli import eventloop

    module, dot, action = args.target.partition(".")
    if not dot or not module or not action:
        raise InputError(f"expected MODULE.ACTION such as rpcutil.ping, got {args.target!r}")
    from orch.play.lifecycle import Interrupt, signal_notice

    loop = eventloop.loop_factory(env.environ)
    interrupt = Interrupt()  # its grace comes from the config, read in execute
    arguments = read_input_files(args.input_file, parse_arguments(args.arguments), env)
    main = execute(args, env, module, action, arguments, interrupt)
    return eventloop.run(main, loop, on_signal=signal_notice(
        env.stderr, interrupt, "the hosts not reached are reported NotRun"))


async def execute(args, env, module: str, action: str, arguments: dict,
                  interrupt=None) -> int:
    """Select, check the arguments and options, then run one step; exit 0 only if all went well."""
    from pathlib import Path

    from orch.agents import load_registry
    from orch.cli.commands.discover import select_from_args
    from orch.cli.runner import config_from_args, settle_heap
    from orch.errors import NothingMatched
    from orch.masking import Masker
    from orch.output import make_sink
    from orch.play.lifecycle import Run, interrupted_call
    from orch.schema import MASK
    from orch.select.offers import offering

    config = config_from_args(args, env)
    if interrupt is not None:
        interrupt.grace = config.interrupt_grace  # ORCH_INTERRUPT_GRACE, orch.cfg
    registry = load_registry(config)
    become, password = become_from_args(args, env)
    dest, diff = getattr(args, "dest", None), getattr(args, "diff", False)
    if dest is not None and (module, action) != ("file", "fetch"):
        raise InputError("--dest is for file.fetch only", Where(path="--dest"))
    options = options_from_args(args, verbose=args.verbose, summarize=args.summarize,
                                check=args.check, lock=not args.no_lock, **become)
    spec = registry.get(module)
    arguments = local_paths(spec, action, arguments, env.cwd)
    checked = spec.prepare_args(action, arguments)  # bad input fails before anything else
    secret = spec.sensitive_inputs(action)
    shown = {key: (MASK if key in secret else value) for key, value in checked.items()}
    hosts = select_from_args(args, env, config).hosts()
    if not args.identities:
        hosts = offering(hosts, module)
        if not hosts:
            raise NothingMatched(f"none of the selected hosts offers {module}")
    if spec.flag(action, "needs_root") and not args.check:
        from orch.rpc.session import check_root

        check_root(hosts, module, action, options, config)  # exit 2, nothing sent
    masker = Masker(value for key, value in checked.items() if key in secret)
    if password:
        masker.add(password)
    run = Run(config, registry, make_sink(env, json=args.json, verbose=args.verbose,
                                          diff=diff),
              masker=masker, become_password=password,
              host_key_policy="accept-new" if args.accept_new else None, check=args.check,
              locking=not args.no_lock, interrupt=interrupt)
    read_only = spec.flag(action, "read_only")
    if args.no_lock and not read_only:
        shown = {**shown, "--no-lock": True}  # journaled with the run's inputs
    settle_heap()

    async def body(engine):
        done = await engine.one_step("call", hosts, module, action, checked, options,
                                     read_only=read_only)
        if dest is not None and engine.last_result is not None:
            for line in save_fetched(engine.last_result, Path(env.cwd) / dest, checked["path"]):
                env.stderr.write(line + "\n")
        return done

    outcome = await run.execute(f"call {module}.{action}", "call", shown, body)
    if outcome.status == "interrupted":
        env.stderr.write(interrupted_call(outcome, f"orch call {module}.{action}"))
    return outcome.exit_status


def local_paths(spec, action: str, arguments: dict, cwd) -> dict:
    """Relative local-file inputs (file.write's ``src``) made absolute from the CLI's cwd."""
    from pathlib import Path

    from orch.agents.controller_inputs import LOCAL_FILE, controller_inputs

    found = {name for name, item in controller_inputs(spec.action(action)).items()
             if item["controller"] == LOCAL_FILE}
    return {key: (str(Path(cwd) / value) if key in found and isinstance(value, str) and value
                  and not value.startswith("/") else value)
            for key, value in arguments.items()}


#: The most bytes a fetched file may have: file.fetch's own limit, enforced here again.
FETCH_MAX = 1024 * 1024


def save_fetched(result, dest, path: str) -> list[str]:
    """Write each OK host's ``content_b64`` to ``dest/<host>/<path>``; one line per host.

    Host names and the path are checked so nothing lands outside ``dest``; a reply over
    FETCH_MAX bytes, or whose sha256 does not match, is not written."""
    import base64
    import binascii
    import hashlib
    import os
    from pathlib import Path

    lines = []
    relative = os.path.normpath(path).lstrip("/")
    if not relative or relative.startswith(".."):
        return [f"not saving: {path!r} is not a file path"]
    for host, reply in sorted(result.results.items()):
        if reply.status != "OK":
            continue
        if host in (".", "..") or "/" in host or "\x00" in host:
            lines.append(f"not saving {host}: unusable as a folder name")
            continue
        encoded = (reply.data or {}).get("content_b64")
        try:
            data = base64.b64decode(encoded or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            lines.append(f"not saving {host}: the reply is not base64")
            continue
        if len(data) > FETCH_MAX:
            lines.append(f"not saving {host}: {len(data)} bytes, over the limit of {FETCH_MAX}")
            continue
        if reply.data.get("sha256") and hashlib.sha256(data).hexdigest() != reply.data["sha256"]:
            lines.append(f"not saving {host}: content does not match its sha256")
            continue
        target = Path(dest) / host / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.orch-tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        lines.append(f"fetched {host}:{path} -> {target}")
    return lines
