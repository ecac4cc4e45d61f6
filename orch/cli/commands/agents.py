"""`orch agents`: not built yet."""

from orch.errors import InputError

HELP = "list modules and document their actions, inputs, outputs and aggregates (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch agents' is not built yet")
