"""`orch play`: not built yet."""

from orch.errors import InputError

HELP = "run a play (YAML or Python): discover, call in batches, retry, summarize, notify (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch play' is not built yet")
