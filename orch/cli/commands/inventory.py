"""``orch inventory --list | --graph [GROUP] [--vars] | --host NAME``: as ansible-inventory."""

from __future__ import annotations

import argparse

HELP = "show the inventory as ansible-inventory does (--list, --graph, --host)"
DESCRIPTION = """Show the inventory exactly as 'ansible-inventory' prints it, so an operator can check
that orch reads an existing Ansible inventory the way Ansible does.

  orch inventory --list                 JSON: groups, children, _meta.hostvars
  orch inventory --graph [GROUP] --vars the group tree (with variables)
  orch inventory --host dev1            one host's effective variables
  orch inventory --list -i inventories/  a file or a folder (default: orch.cfg's inventory)

Exit 2 with the file and line for an inventory Ansible would refuse."""


def configure(parser: argparse.ArgumentParser) -> None:
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--list", action="store_true", help="print every group and host var as JSON")
    action.add_argument("--graph", nargs="?", const="all", metavar="GROUP",
                        help="print the group tree, from GROUP (default all)")
    action.add_argument("--host", metavar="NAME", help="print one host's variables as JSON")
    parser.add_argument("--vars", action="store_true", help="with --graph: show variables too")
    parser.add_argument("-i", "--inventory", action="append", metavar="PATH",
                        help="inventory file or folder (repeatable; default from orch.cfg)")


def run(args, env) -> int:
    from orch.config import load_config
    from orch.inventory import load_inventory

    if args.inventory:
        paths = [str(env.cwd / path) for path in args.inventory]
    else:
        paths = list(load_config(environ=env.environ, cwd=env.cwd).inventory)
    inventory = load_inventory(paths)
    if args.list:
        text = inventory.to_list_json()
    elif args.host is not None:
        text = inventory.host_json(args.host)
    else:
        text = inventory.to_graph(show_vars=args.vars, start=args.graph)
    env.stdout.write(text + "\n")
    return 0
