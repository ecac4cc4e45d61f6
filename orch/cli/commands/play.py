"""`orch play`: run a YAML or Python play on the fleet, journaled, resumable."""

from __future__ import annotations

from orch.cli.call_flags import add_become_flags, add_run_flags

SETTLES_HEAP = True  # see orch.cli.runner.settle_heap
HELP = "run a play (YAML or Python): discover, call in batches, retry, summarize, notify"
DESCRIPTION = """\
Run a play: a YAML file (plays/*.yml) or a Python file with run(orch) (plays/*.py).

  orch play plays/app_cluster_upgrade.yml -e cluster=bravo -e backend=app -e revision=20
  orch play plays/app_cluster_upgrade.py cluster=bravo backend=app revision=20
  orch play plays/app_cluster_upgrade.yml --resume 20261125T081500-ab12cd

Inputs come from -e NAME=VALUE (or NAME=VALUE after the play), else a prompt on a terminal,
else the input's default. The play file is checked completely before any host is contacted.
Every run is written to the journal (see 'orch runs'); --resume RUN_ID runs the play again,
skipping each (step, host) that succeeded in that run, with that run's inputs unless given.
--limit and -I narrow every node set of the play, as ansible-playbook --limit does.
--check is a dry run (actions that support it report what they would change, the others are
skipped); --syntax-check only checks the play and its inputs.
Exit: 0 all went well, 1 a step or host failed (or a node set was empty), 2 bad input."""


def configure(parser) -> None:
    parser.add_argument("play", help="play file: .yml/.yaml, or .py with run(orch)")
    parser.add_argument("assignments", nargs="*", metavar="NAME=VALUE", help="inputs")
    parser.add_argument("-e", "--extra", action="append", default=[], metavar="NAME=VALUE",
                        help="an input (repeatable)")
    parser.add_argument("--resume", metavar="RUN_ID",
                        help="skip (step, host) pairs that succeeded in that run")
    parser.add_argument("--syntax-check", action="store_true",
                        help="check the play and its inputs, contact no host")
    parser.add_argument("-i", "--inventory", action="append", metavar="PATH",
                        help="inventory file or folder (default from orch.cfg)")
    narrow = parser.add_argument_group("narrow every node set (as ansible-playbook --limit)")
    narrow.add_argument("--limit", metavar="PATTERN",
                        help="host names, globs, /regex/ or groups, comma-separated; "
                        "!PATTERN excludes")
    narrow.add_argument("-I", "--identity", dest="identities", action="append", default=[],
                        metavar="NAME", help="only these hosts (name, glob or /regex/; repeatable)")
    add_run_flags(parser)
    add_become_flags(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per host for every step")
    parser.add_argument("--json", action="store_true", help="JSON Lines: one event per line")
    parser.add_argument("--diff", action="store_true",
                        help="show the unified diffs of changed files (file.write)")


def run(args, env) -> int:
    from pathlib import Path

    from orch.agents import load_registry
    from orch.cli import eventloop
    from orch.cli.runner import settle_heap
    from orch.config import load_config
    from orch.errors import InputError, Where
    from orch.journal import open_journal
    from orch.masking import Masker
    from orch.output import make_sink
    from orch.play.inputs import masked, parse_assignments, resolve_inputs
    from orch.play.lifecycle import Interrupt, Run, signal_notice
    from orch.select.limit import narrowing

    loop = eventloop.loop_factory(env.environ)
    flags = {"inventory": args.inventory} if args.inventory else {}
    config = load_config(flags, env.environ, env.cwd)
    registry = load_registry(config)
    path = Path(args.play)
    if not path.is_absolute():
        path = Path(env.cwd) / path
    if not path.is_file():
        raise InputError("no such play file", Where(args.play))
    given = parse_assignments(args.assignments, flag="NAME=VALUE")
    given.update(parse_assignments(args.extra))
    kind = "python" if path.suffix == ".py" else "yaml" if path.suffix in (".yml", ".yaml") else None
    if kind is None:
        raise InputError("a play is a .yml, .yaml or .py file", Where(args.play))
    narrow = narrowing(args.limit, args.identities)

    import hashlib

    try:
        play_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as error:
        raise InputError(f"cannot read the play: {error.strerror}", Where(args.play)) from None
    if kind == "yaml":
        from orch.play.loader import load_play

        play = load_play(path, registry, display=args.play)
        name, input_names = play.name, {spec.name for spec in play.inputs}
    else:
        from orch.play.python_play import PythonPlay

        play = PythonPlay(path, display=args.play)
        play.check_requires(registry)
        name, input_names = play.name, None

    journal = open_journal(config.journal)
    try:
        done: set = set()
        if args.resume:
            done = _resumed(journal, args.resume, name, input_names, given, play_hash)
        ask = _prompter(env) if env.stdin_isatty else None
        masker = Masker()
        if kind == "yaml":
            values = resolve_inputs(play.inputs, given, ask, args.play)
            from orch.play.engine import check_play_options

            check_play_options(play, values)
            shown = masked(play.inputs, values)
            for spec in play.inputs:
                if spec.sensitive:
                    masker.add(values[spec.name])
        else:
            values, shown = given, {}
        if args.syntax_check:
            env.stdout.write(f"{args.play}: play {name!r} is valid\n")
            return 0
        if args.no_lock:
            shown = {**shown, "--no-lock": True}
        from orch.cli.call_flags import become_from_args
        from orch.rpc.options import CallOptions

        become, password = become_from_args(args, env)
        if password:
            masker.add(password)
        interrupt = Interrupt(grace=config.interrupt_grace)
        run = Run(config, registry, make_sink(env, json=args.json, verbose=args.verbose,
                                              diff=args.diff),
                  masker=masker, journal=journal, resumed_from=args.resume, done=done,
                  host_key_policy="accept-new" if args.accept_new else None, narrow=narrow,
                  check=args.check, locking=not args.no_lock, interrupt=interrupt,
                  play_hash=play_hash, become_password=password,
                  defaults=CallOptions.build(become) if become else None)

        async def main():
            settle_heap()
            if kind == "yaml":
                return await run.execute(
                    play.name, "play", shown,
                    lambda engine: engine.play_body(play, values))
            from orch.play.python_play import python_body

            return await run.execute(play.name, "play", {},
                                     python_body(play, given, ask, registry), lazy=True)

        outcome = eventloop.run(main(), loop, on_signal=signal_notice(
            env.stderr, interrupt, "on_fail runs"))
    finally:
        journal.close()
    if outcome.status == "interrupted":
        env.stderr.write(f"orch: run {outcome.run_id} was interrupted; to finish it: "
                         f"orch play {args.play} --resume {outcome.run_id}\n")
    return outcome.exit_status


def _resumed(journal, run_id: str, name: str, input_names, given: dict, play_hash: str) -> set:
    """What ``--resume RUN_ID`` skips; fills ``given`` with that run's inputs (exit 2 if the
    run is unknown, ran another play, a play file changed since, or other inputs)."""
    from orch.errors import InputError, Where
    from orch.play.inputs import MASK

    previous = journal.run(run_id)
    if previous is None:
        raise InputError(f"no run {run_id!r} in the journal", Where(path="--resume"))
    if previous.name != name:
        raise InputError(f"run {run_id} ran play {previous.name!r}, not {name!r}",
                         Where(path="--resume"))
    if previous.play_hash and previous.play_hash != play_hash:
        # The steps (and so what "succeeded" means) may differ: skipping would be a guess.
        raise InputError(f"the play file changed since run {run_id} (sha256 "
                         f"{previous.play_hash[:12]}… then, {play_hash[:12]}… now); resume with "
                         "the same play file or start a new run", Where(path="--resume"))
    for key, value in previous.inputs.items():
        if value == MASK or (input_names is not None and key not in input_names):
            continue
        text = value if isinstance(value, str) else str(value)
        if key in given and given[key] != text:
            # What succeeded then was done with the old value: skipping it would be wrong.
            raise InputError(f"run {run_id} ran with {key}={text}; resume it with the "
                             f"same inputs (or start a new run)", Where(path=f"-e {key}"))
        given[key] = text
    return journal.succeeded(run_id)


def _prompter(env):
    """Ask for a missing input on the terminal; sensitive ones without echo."""

    def ask(spec):
        import getpass

        label = spec.prompt or spec.name
        if spec.validation:
            label += f" ({spec.validation})"
        if spec.sensitive:
            return getpass.getpass(f"{label}: ", stream=env.stderr)
        env.stderr.write(f"{label}: ")
        env.stderr.flush()
        line = env.stdin.readline()
        return line.rstrip("\n") if line else None

    return ask
