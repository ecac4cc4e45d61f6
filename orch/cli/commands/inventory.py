"""`orch inventory`: not built yet."""

from orch.errors import InputError

HELP = "show the inventory as ansible-inventory does (--list, --graph, --host) (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch inventory' is not built yet")
