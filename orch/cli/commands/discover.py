"""`orch discover`: not built yet."""

from orch.errors import InputError

HELP = "list the hosts that match the selection flags (offline) (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch discover' is not built yet")
