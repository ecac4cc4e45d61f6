"""``orch ssh-config HOST…``: each host's effective connection settings, as ``ssh -G`` prints."""

from __future__ import annotations

import argparse

HELP = "print each host's effective SSH settings, as 'ssh -G' does"
DESCRIPTION = """Print the settings orch would connect to each host with, one 'keyword value'
per line as 'ssh -G' prints them, resolved from the inventory's ansible_* variables, the OpenSSH
config file (~/.ssh/config, or orch.cfg ssh_config), orch.cfg and OpenSSH's defaults; then the
Python and escalation the host's runtime would start with. Nothing is sent to any host.

  orch ssh-config web3
  orch ssh-config -i inventory.ini web1 web4

Exit 2 for a host not in the inventory or a setting orch does not honour."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hosts", nargs="+", metavar="HOST", help="inventory host names")
    parser.add_argument("-i", "--inventory", action="append", metavar="PATH",
                        help="inventory file or folder (repeatable; default from orch.cfg)")


def run(args, env) -> int:
    from orch.config import load_config
    from orch.errors import InputError, Where
    from orch.inventory import load_inventory
    from orch.rpc.options import DEFAULT_OPTIONS
    from orch.rpc.session import RpcSession, target_of
    from orch.transport import sshconfig

    flags = {"inventory": [str(env.cwd / p) for p in args.inventory]} if args.inventory else {}
    config = load_config(flags=flags, environ=env.environ, cwd=env.cwd)
    inventory = load_inventory(list(config.inventory))
    session = RpcSession(config, None, lambda event: None, "ssh-config")
    blocks = []
    for name in args.hosts:
        host = inventory.hosts.get(name) if isinstance(inventory.hosts, dict) else None
        if host is None:
            raise InputError(f"no host {name!r} in the inventory", Where(path=name))
        target = target_of(host, config)
        lines = sshconfig.describe(target)
        host_vars = host.vars or {}
        python = str(host_vars.get("ansible_python_interpreter") or config.remote_python)
        runtime = session.runtime_of(host, DEFAULT_OPTIONS)
        become = runtime.become
        lines.append(("python", python))
        lines.append(("become", f"{become.method} to {become.user}" if become else "no"))
        blocks.append("\n".join(f"{key} {value}" for key, value in lines))
    env.stdout.write("\n\n".join(blocks) + "\n")
    return 0
