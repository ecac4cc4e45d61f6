"""`orch lab`: not built yet."""

from orch.errors import InputError

HELP = "a local fleet on a real sshd, HAProxy, app services and a webhook (up/down/status) (not built yet)"


def configure(parser) -> None:
    parser.add_argument("rest", nargs="*", help="(not built yet)")


def run(args, env) -> int:
    raise InputError("'orch lab' is not built yet")
