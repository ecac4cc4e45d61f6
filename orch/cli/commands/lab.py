"""`orch lab up | status | down`: a local fleet on a real sshd, HAProxy, app services, webhook."""

from __future__ import annotations

import json
from pathlib import Path

HELP = "a local fleet on a real sshd, HAProxy, app services and a webhook (up/down/status)"
DESCRIPTION = """\
Start, inspect or stop the lab: one real OpenSSH sshd serving every lab host on its own
loopback address (lb1 127.0.1.1, notify1 127.0.1.2, dev1.. 127.0.1.3..), HAProxy on lb1 with
backend 'app', an app server on each dev host answering its revision, and a webhook
receiver on notify1. 'up' also writes the inventory (YAML + Ansible INI twin) and the lab's
known_hosts. 'up' twice is harmless; 'down' stops only what the lab started.

  orch lab up -n 10          # lb1, notify1, dev1..dev10 (clusters alfa, bravo)
  orch lab status
  orch lab down
"""


def configure(parser) -> None:
    parser.add_argument("action", choices=("up", "down", "status"), help="what to do")
    parser.add_argument("-n", type=int, default=None, metavar="N",
                        help="number of app servers dev1..devN (default 10, or the running lab's)")
    parser.add_argument("--dir", default=None, metavar="D",
                        help="lab folder (default: lab_dir from orch.cfg)")
    parser.add_argument("--port", type=int, default=None, metavar="P",
                        help="sshd port (default 2222 when free, else any free port)")
    parser.add_argument("--inventory-out", default=None, metavar="PATH",
                        help="where 'up' writes the YAML inventory (an .ini twin goes next to "
                        "it; default: the lab inventory of orch.cfg, else inventories/lab.yml)")
    parser.add_argument("--max-apps", type=int, default=None, metavar="N",
                        help="start app services on at most N dev hosts (default 50: a Python "
                        "app server per host would eat memory at -n 1000)")
    parser.add_argument("--restricted", nargs="?", const="root", default=None,
                        choices=("root", "sudo"), metavar="LOGIN",
                        help="up: restricted mode, orch's gate as the forced command, pinned "
                        "code (docs/trust.md; root only). LOGIN root (default): the lab key "
                        "logs in as root; sudo: as the login user, the gate escalating with "
                        "sudo")
    parser.add_argument("--json", action="store_true", help="print the lab's status as JSON")


def _default_inventory(config, cwd: Path) -> Path:
    """The config's inventory when it is a lab YAML file; never a user's own inventory."""
    for path in config.inventory:
        if Path(path).name.startswith("lab") and Path(path).suffix in (".yml", ".yaml"):
            return Path(path)
    return cwd / "inventories" / "lab.yml"


def run(args, env) -> int:
    from orch import lab
    from orch.config import load_config
    from orch.errors import InputError, Where

    config = load_config(flags={"lab_dir": args.dir}, environ=env.environ, cwd=env.cwd)
    lab_dir = Path(config.lab_dir)
    if args.n is not None and args.n < 1:
        raise InputError(f"need at least one app server, got {args.n}", Where(path="-n"))
    if args.max_apps is not None and args.max_apps < 0:
        raise InputError(f"must not be negative, got {args.max_apps}", Where(path="--max-apps"))

    if args.action == "up":
        inventory = args.inventory_out
        if inventory is not None:
            inventory = Path(env.cwd) / inventory
        elif not (lab_dir / "lab.json").exists():
            inventory = _default_inventory(config, Path(env.cwd))
        result = lab.up(lab_dir, n=args.n, port=args.port, inventory_out=inventory,
                        max_apps=args.max_apps, restrict=args.restricted)
    elif args.action == "status":
        result = lab.status(lab_dir)
    else:
        stopped = lab.down(lab_dir)
        result = lab.status(lab_dir)
        if args.json:
            env.stdout.write(json.dumps({"stopped": stopped, **result.to_dict()}) + "\n")
        elif not result.exists:
            env.stdout.write(f"no lab in {lab_dir}\n")
        else:
            env.stdout.write(f"lab in {lab_dir} stopped ({len(stopped)} processes)\n")
        return 0 if not result.running else 1

    if args.json:
        env.stdout.write(json.dumps(result.to_dict()) + "\n")
    else:
        env.stdout.write(render(result, args.action))
    return 0 if args.action == "up" or result.running else 1 if result.exists else 1


def render(result, action: str) -> str:
    """Plain text: what runs where, one service a line, then how to use it."""
    if not result.exists:
        return f"no lab in {result.dir} (start one with 'orch lab up')\n"
    settings = result.settings
    lines = []
    if action == "up":
        started = result.started
        lines.append(f"lab in {result.dir}: " + (
            f"started {', '.join(_short(started))}" if started else "already running"))
    else:
        lines.append(f"lab in {result.dir}: " + ("running" if result.running else "stopped"))
    for service in result.services:
        if service.name == "app":
            continue
        state = f"pid {service.pid}" if service.pid else "not running"
        lines.append(f"  {service.name:<8} {service.host:<8} {service.address:<22} {state:<12} "
                     f"{service.detail}")
    revisions: dict[str, int] = {}
    for service in result.services:
        if service.name == "app":
            revisions[service.detail] = revisions.get(service.detail, 0) + 1
    spread = ", ".join(f"{count} on {rev}" for rev, count in sorted(revisions.items()))
    note = ""
    if settings["max_apps"] < result.apps_total:
        note = f" (app services start on at most {settings['max_apps']} hosts: --max-apps)"
    lines.append(f"  {'apps':<8} {'dev*':<8} {'port ' + str(settings['app_port']):<22} "
                 f"{result.apps_up}/{result.apps_total} up{': ' + spread if spread else ''}{note}")
    lines.append(f"  inventory {settings['inventory']} (+ {Path(settings['inventory_ini']).name}),"
                 f" known_hosts {result.dir}/known_hosts, key {result.dir}/client_key")
    lines.append(f"  try: ssh -i {result.dir}/client_key -p {settings['port']} "
                 f"-o UserKnownHostsFile={result.dir}/known_hosts {settings['login']}@127.0.1.3")
    return "\n".join(lines) + "\n"


def _short(started: list[str]) -> list[str]:
    """``sshd, haproxy, webhook, 10 apps`` rather than every app name."""
    apps = [name for name in started if name.startswith("dev")]
    rest = [name for name in started if not name.startswith("dev")]
    return rest + ([f"{len(apps)} app{'s' if len(apps) != 1 else ''}"] if apps else [])
