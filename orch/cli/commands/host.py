"""``orch host init``: set hosts up for orch over orch itself (the ``orchhost`` module)."""

from __future__ import annotations

import argparse
import json
import re

from orch.cli.call_flags import add_become_flags, add_call_flags, add_run_flags
from orch.cli.selection_flags import add_selection_flags
from orch.errors import InputError, Where

SETTLES_HEAP = True  # a fleet run, as orch call (see orch.cli.runner.settle_heap)
HELP = "set hosts up for orch: /etc/orch, /var/log/orch, callers, default policies"
DESCRIPTION = """Set the selected hosts up for orch by calling orchhost.init on them, as root
(log in as root, or escalate with -b / ansible_become):

  /etc/orch/              root:root 0755  host.json, classes, facts.d/, policy/, callers
  /etc/orch/policy/*      root:root 0644  default actionpolicies (open: allow), kept if edited
  /etc/orch/callers       root:root 0644  operators by key fingerprint (--caller)
  /var/log/orch/          root:root 0750  the audit log when the runtime runs as root

  orch host init -I web1 --caller rip=~/.ssh/id_ed25519.pub
  orch host init -C web --caller alice=SHA256:abc... --check

Idempotent: a host already set up reports "unchanged". Existing files keep their content
(only owners and modes are set right); with --caller the callers file holds exactly the
operators given. Once /etc/orch exists the runtime reads its state there (see
'orch call rpcutil.inventory': state_dir, audit_log).

Exit 0 when every host answered OK, 1 when some failed or were unreachable, 2 for bad input."""

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("init",), help="what to do (init)")
    parser.add_argument("--caller", action="append", default=[], metavar="NAME=KEY",
                        help="map an operator to an SSH key: KEY is a SHA256: fingerprint, a "
                             "public key file, or the key text (repeat for each operator)")
    add_selection_flags(parser)
    add_call_flags(parser)
    add_run_flags(parser)
    add_become_flags(parser)
    out = parser.add_argument_group("output")
    out.add_argument("-v", "--verbose", action="store_true", help="a line per host")
    out.add_argument("--json", action="store_true", help="JSON Lines, one object per event")


def caller_line(text: str, cwd) -> str:
    """``NAME=KEY`` → ``SHA256:<fingerprint> NAME`` (the line orchhost writes to callers)."""
    from pathlib import Path

    from orch.runtime.core import key_fingerprint

    where = Where(path="--caller")
    name, separator, key = text.partition("=")
    if not separator or not _NAME.match(name):
        raise InputError(f"expected NAME=KEY with NAME of letters, digits, '_.@-', got {text!r}",
                         where)
    key = key.strip()
    if _FINGERPRINT.match(key):
        return f"{key} {name}"
    if not key.startswith(("ssh-", "ecdsa-", "sk-")):
        path = Path(key).expanduser()
        path = path if path.is_absolute() else Path(cwd) / path
        from orch.config import read_regular_file

        data = read_regular_file(path, "public key", limit=64 * 1024, where=Where(str(path)))
        key = data.decode("utf-8", "replace").strip()
        where = Where(str(path))
    fields = key.split()
    fingerprint = key_fingerprint(fields[1]) if len(fields) >= 2 else None
    if fingerprint is None or not _FINGERPRINT.match(fingerprint) or "PRIVATE KEY" in key:
        raise InputError("expected a public key ('ssh-ed25519 AAAA...') or a SHA256: "
                         "fingerprint", where)
    return f"{fingerprint} {name}"


def run(args, env) -> int:
    from orch.cli import eventloop
    from orch.cli.commands.call import execute
    arguments = {}
    if args.caller:
        lines = [caller_line(text, env.cwd) for text in args.caller]
        arguments["callers"] = json.dumps(lines)
    args.target = "orchhost.init"
    args.summarize = True
    loop = eventloop.loop_factory(env.environ)
    return eventloop.run(execute(args, env, "orchhost", "init", arguments), loop)
