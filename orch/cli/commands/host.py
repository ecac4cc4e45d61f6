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
  orch host init -I web1 -b --restricted --caller rip=~/.ssh/orch.pub
  orch host init -I web1 -b --restricted --root-login --caller rip=~/.ssh/orch.pub
  orch host trust -b -C web                 # after an upgrade: trust this version's code
  orch host trust appmgr -b --batch 1 --batch-sleep 10   # a rolling trust, one host at a time
  orch host init -C web --caller alice=SHA256:abc... --check

Idempotent: a host already set up reports "unchanged". Existing files keep their content
(only owners and modes are set right); with --caller the callers file holds exactly the
operators given. Once /etc/orch exists the runtime reads its state there (see
'orch call rpcutil.inventory': state_dir, audit_log).

--restricted (docs/trust.md) also installs orch's gate as the forced command of each
--caller key (KEY must then be the public key), pins this orch's runtime and modules in
/etc/orch/trusted.d/, and denies command, file, group, package, orchhost and user to all but
those callers.
'orch host trust [MODULE...]' pins the runtime and the given modules (default: all) of this
orch; run it from a version the hosts already trust, with --runtime pointing at the new
version's orch/runtime/core.py, before rolling the new version out. A host that refuses
code it does not trust names the module and the hash it got ('orch call' lists them under
Failed hosts), so a half-trusted fleet shows which hosts still need 'orch host trust'.

--restricted --root-login makes the orch key log in as root instead (no sudo per login, and
the forced command sits in root's own authorized_keys, which the login user cannot change):
init first asks the host's sshd (sshd -T) whether root may log in with a key (PermitRootLogin
prohibit-password, Debian's default; AllowUsers/DenyUsers/AllowGroups) and changes nothing if
not; then writes the keys to root's AuthorizedKeysFile, removes them from the login user's,
and removes an earlier init's /etc/sudoers.d/orch-gate. From then on log in as root: in the
inventory ansible_user=root (or 'User root' in ~/.ssh/config); 'Log in as' in the output says
which user each host expects.

Exit 0 when every host answered OK, 1 when some failed or were unreachable, 2 for bad input."""

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_FINGERPRINT = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}$")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("init", "trust"), help="what to do (init, trust)")
    parser.add_argument("modules", nargs="*", metavar="MODULE",
                        help="trust: the modules to trust (default, and for init --restricted: "
                             "the modules orch ships)")
    parser.add_argument("--restricted", action="store_true",
                        help="init: restricted mode (gate, pinned code, deny-by-default)")
    parser.add_argument("--root-login", action="store_true",
                        help="init --restricted: the orch key logs in as root (root's own "
                             "authorized_keys, no sudo rule); then use ansible_user=root")
    parser.add_argument("--allow", action="append", default=[], metavar="NAME",
                        help="init --restricted: who may use command, file, group, package, "
                             "orchhost, user (repeat; default: every --caller)")
    parser.add_argument("--runtime", metavar="CORE_PY", default=None,
                        help="trust: also trust this core.py (a new orch version's runtime)")
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


def public_key(text: str, cwd) -> str:
    """``NAME=KEY`` → ``NAME <type> <base64>`` (restricted mode needs the key itself)."""
    from pathlib import Path

    from orch.config import read_regular_file

    name, _, key = text.partition("=")
    key = key.strip()
    where = Where(path="--caller")
    if not key.startswith(("ssh-", "ecdsa-", "sk-")):
        path = Path(key).expanduser()
        path = path if path.is_absolute() else Path(cwd) / path
        key = read_regular_file(path, "public key", limit=64 * 1024,
                                where=Where(str(path))).decode("utf-8", "replace").strip()
        where = Where(str(path))
    fields = key.split()
    if len(fields) < 2 or _FINGERPRINT.match(fields[0]):
        raise InputError("--restricted needs each --caller KEY as a public key (file or text), "
                         "not a fingerprint", where)
    return f"{name} {fields[0]} {fields[1]}"


def trusted_lines(args, env) -> list[str]:
    """``<sha256> <what>`` for this orch's runtime and the modules (all, or those named)."""
    import hashlib
    from pathlib import Path

    from orch.agents import load_registry
    from orch.cli.runner import config_from_args
    from orch.runtime.bootstrap import CORE_PATH

    lines = [f"{hashlib.sha256(CORE_PATH.read_bytes()).hexdigest()} runtime"]
    if args.runtime:
        path = Path(args.runtime).expanduser()
        path = path if path.is_absolute() else Path(env.cwd) / path
        try:
            lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()} runtime")
        except OSError as error:
            raise InputError(f"cannot read: {error.strerror or error}", Where(str(path))) from None
    from orch.agents.registry import SHIPPED_MODULES

    registry = load_registry(config_from_args(args, env))
    shipped = SHIPPED_MODULES.resolve()
    names = args.modules or [name for name in registry.names()
                             if Path(registry.path(name)).resolve().parent == shipped]
    for name in names:
        if name not in registry:
            raise InputError(f"unknown module {name!r}", Where(path="MODULE"))
        lines += [f"{digest} {wire}" for wire, digest, _ in registry.get(name).bundle()]
    return sorted(set(lines))


def run(args, env) -> int:
    import hashlib

    from orch.cli import eventloop
    from orch.cli.commands.call import execute
    from orch.runtime.bootstrap import CORE_PATH
    arguments = {}
    action = args.action
    if action == "init" and args.modules:
        raise InputError("init takes no MODULE (did you mean 'orch host trust'?)",
                         Where(path="MODULE"))
    if args.root_login and not (action == "init" and args.restricted):
        raise InputError("--root-login goes with 'init --restricted'", Where(path="--root-login"))
    if action == "trust":
        arguments["trusted"] = json.dumps(trusted_lines(args, env))
    elif args.caller:
        lines = [caller_line(text, env.cwd) for text in args.caller]
        arguments["callers"] = json.dumps(lines)
    if action == "init" and args.restricted:
        if not args.caller:
            raise InputError("--restricted needs at least one --caller NAME=PUBLIC-KEY",
                             Where(path="--caller"))
        gate = (CORE_PATH.parent / "gate.py").read_text()
        arguments.update(restricted="true", gate=gate,
                         gate_sha256=hashlib.sha256(gate.encode("utf-8")).hexdigest(),
                         keys=json.dumps([public_key(text, env.cwd) for text in args.caller]),
                         allow=json.dumps([name for name in args.allow if _NAME.match(name)]),
                         trusted=json.dumps(trusted_lines(args, env)))
        if args.root_login:
            arguments["root_login"] = "true"
    args.target = f"orchhost.{action}"
    args.summarize = True
    loop = eventloop.loop_factory(env.environ)
    return eventloop.run(execute(args, env, "orchhost", action, arguments), loop)
