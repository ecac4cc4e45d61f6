"""`orch call`: not built yet."""

from orch.errors import InputError

HELP = "call module.action on the selected hosts in parallel (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch call' is not built yet")
