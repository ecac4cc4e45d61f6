"""`orch play`: run a YAML or Python play on the fleet, journaled, resumable."""

from __future__ import annotations

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
Exit: 0 all went well, 1 a step or host failed (or a node set was empty), 2 bad input."""


def configure(parser) -> None:
    parser.add_argument("play", help="play file: .yml/.yaml, or .py with run(orch)")
    parser.add_argument("assignments", nargs="*", metavar="NAME=VALUE", help="inputs")
    parser.add_argument("-e", "--extra", action="append", default=[], metavar="NAME=VALUE",
                        help="an input (repeatable)")
    parser.add_argument("--resume", metavar="RUN_ID",
                        help="skip (step, host) pairs that succeeded in that run")
    parser.add_argument("--check", action="store_true",
                        help="check the play and its inputs, contact no host")
    parser.add_argument("-i", "--inventory", action="append", metavar="PATH",
                        help="inventory file or folder (default from orch.cfg)")
    parser.add_argument("--accept-new", action="store_true", help="trust first-seen host keys")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line per host for every step")
    parser.add_argument("--json", action="store_true", help="JSON Lines: one event per line")


def run(args, env) -> int:
    import getpass
    from pathlib import Path

    from orch.agents import load_registry
    from orch.cli import eventloop
    from orch.cli.runner import settle_heap
    from orch.config import load_config
    from orch.errors import ExitStatus, InputError, Where
    from orch.journal import open_journal
    from orch.output import fan_out, make_sink
    from orch.play.engine import Engine, new_run_id
    from orch.play.inputs import MASK, masked, masker, parse_assignments, resolve_inputs

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
    done: set = set()
    if args.resume:
        previous = journal.run(args.resume)
        if previous is None:
            raise InputError(f"no run {args.resume!r} in the journal", Where(path="--resume"))
        if previous.name != name:
            raise InputError(f"run {args.resume} ran play {previous.name!r}, not {name!r}",
                             Where(path="--resume"))
        for key, value in previous.inputs.items():
            if value == MASK or (input_names is not None and key not in input_names):
                continue
            text = value if isinstance(value, str) else str(value)
            if key in given and given[key] != text:
                # What succeeded then was done with the old value: skipping it would be wrong.
                raise InputError(f"run {args.resume} ran with {key}={text}; resume it with the "
                                 f"same inputs (or start a new run)", Where(path=f"-e {key}"))
            given[key] = text
        done = journal.succeeded(args.resume)

    ask = _prompter(env) if env.stdin_isatty else None
    if kind == "yaml":
        values = resolve_inputs(play.inputs, given, ask, args.play)
        shown = masked(play.inputs, values)
        mask = masker(values[spec.name] for spec in play.inputs if spec.sensitive)
    else:
        values, shown, mask = given, {}, masker(())
    if args.check:
        env.stdout.write(f"{args.play}: play {name!r} is valid\n")
        return ExitStatus.OK

    caller = env.environ.get("USER") or getpass.getuser()
    run_id = new_run_id()
    renderer = make_sink(env, json=args.json, verbose=args.verbose)
    engine_box: list = []

    pipe_closed: list = []

    def show(event) -> None:
        """Turn the renderer's per-host lines on for steps marked ``verbose``.

        A closed stdout (``orch play … | head``) stops the output, not the play: stopping half
        way would leave servers out of the load balancer. The journal still gets everything.
        """
        from orch.output import events as ev

        if pipe_closed:
            return
        if isinstance(event, ev.StepStarted) and hasattr(renderer, "verbose") and not args.verbose:
            renderer.verbose = engine_box[0].is_verbose(event.step)
        try:
            renderer(event)
        except BrokenPipeError:
            pipe_closed.append(True)

    engine = Engine(fan_out(journal, show), _discoverer(config), run_id, caller, done=done,
                    resumed_from=args.resume, mask=mask,
                    lock=lambda hosts: journal.lock(run_id, hosts))
    engine_box.append(engine)
    policy = "accept-new" if args.accept_new else None

    async def main():
        from orch.rpc.session import RpcSession

        settle_heap()
        async with RpcSession(config, registry, engine.runner_sink, run_id, caller=caller,
                              host_key_policy=policy) as session:
            if kind == "yaml":
                return await engine.run_play(play, values, shown, session)
            from orch.play.python_play import run_python_play

            return await run_python_play(play, engine, session, given, ask, registry)

    try:
        outcome = eventloop.run(main(), loop)
    except KeyboardInterrupt:
        journal.mark(run_id, "interrupted")
        raise
    finally:
        journal.unlock(run_id)
        journal.close()
    return ExitStatus.OK if outcome.ok else ExitStatus.HOSTS_FAILED


def _discoverer(config):
    def discover(selection: dict) -> list:
        from orch.select import Filter
        from orch.select import discover as select

        return select(config, Filter(**selection))

    return discover


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
