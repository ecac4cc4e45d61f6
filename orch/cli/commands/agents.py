"""`orch agents [NAME]`: list modules, or document one module's actions from its declaration."""

from __future__ import annotations

import json

HELP = "list modules and document their actions, inputs, outputs and aggregates"
DESCRIPTION = """List the modules orch can call (from module_paths, the shipped modules/ and
installed packages), or document one, like `mco plugin doc`:

  orch agents              name, version and description of every module
  orch agents appmgr       actions, inputs (type, required, default, validation,
                           sensitive), outputs (display names) and aggregates
"""


def configure(parser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME", help="the module to document")
    parser.add_argument("-M", "--module-path", dest="module_paths", action="append",
                        metavar="DIR", help="extra module folder (replaces orch.cfg's module_paths)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args, env) -> int:
    from orch.agents import load_registry
    from orch.agents.docs import agent_data, agent_doc, agents_table
    from orch.config import load_config

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
