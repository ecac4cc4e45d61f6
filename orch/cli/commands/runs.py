"""`orch runs`: not built yet."""

from orch.errors import InputError

HELP = "the journal: past runs, and per-step per-host results of one run (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch runs' is not built yet")
