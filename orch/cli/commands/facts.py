"""`orch facts`: not built yet."""

from orch.errors import InputError

HELP = "fact value distribution over the fleet; --gather refreshes the cache (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch facts' is not built yet")
