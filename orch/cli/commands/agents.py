"""`orch agents [NAME]`: list modules, or document one module's actions from its declaration."""

from __future__ import annotations

import json

HELP = "list modules and document their actions, inputs, outputs and aggregates"
DESCRIPTION = """List the modules orch can call (from module_paths, the shipped modules/ and
installed packages), or document one, like `mco plugin doc`:

  orch agents              name, version and description of every module
  orch agents appmgr       actions, inputs (type, required, default, validation,
                           sensitive), outputs (display names) and aggregates
  orch agents --check modules/*.py
                           check module files for hosts: a valid declaration, Python 3.6
                           grammar, standard-library imports only (exit 1 naming file:line)

Writing, testing and packaging a module: docs/modules.md.
"""


def configure(parser) -> None:
    parser.add_argument("name", nargs="*", metavar="NAME", help="the module to document "
                        "(with --check: module files or folders)")
    parser.add_argument("--check", action="store_true",
                        help="check module files: declaration, 3.6 grammar, stdlib imports")
    parser.add_argument("-M", "--module-path", dest="module_paths", action="append",
                        metavar="DIR", help="extra module folder (replaces orch.cfg's module_paths)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args, env) -> int:
    from orch.agents import load_registry
    from orch.agents.docs import agent_data, agent_doc, agents_table
    from orch.config import load_config

    if args.check:
        return check(args, env)
    if len(args.name) > 1:
        from orch.errors import InputError

        raise InputError("give one module to document (or --check with files)")
    args.name = args.name[0] if args.name else None
    flags = {"module_paths": args.module_paths} if args.module_paths else {}
    config = load_config(flags=flags, environ=env.environ, cwd=env.cwd)
    registry = load_registry(config)
    if args.name:
        spec = registry.get(args.name)
        if args.json:
            env.stdout.write(json.dumps(agent_data(spec), indent=2, sort_keys=True) + "\n")
        else:
            env.stdout.write(agent_doc(spec))
        return 0
    specs = registry.all()
    if args.json:
        env.stdout.write(json.dumps(
            [{"name": s.name, "version": s.version, "description": s.description, "path": s.path}
             for s in specs], indent=2) + "\n")
    else:
        env.stdout.write(agents_table(specs))
    return 0


def check(args, env) -> int:
    """``--check PATH…``: one line per problem; exit 1 if any, 0 with a summary if none."""
    from orch.agents.checker import check_paths
    from orch.errors import InputError

    if not args.name:
        raise InputError("--check needs module files or folders, e.g. modules/*.py")
    problems = check_paths(args.name)
    for problem in problems:
        env.stdout.write(f"{problem}\n")
    if problems:
        return 1
    env.stdout.write(f"ok: {len(args.name)} path(s) checked\n")
    return 0
