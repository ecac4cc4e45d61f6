"""The bare-SSH floor: asyncssh connect + one ``python3 -c`` JSON one-liner per host, nothing else.

    python bench/floor.py LAB_DIR [--conc 100] [--hosts N]

What orch's ``rpcutil.ping`` is compared with: the least any Python-over-SSH tool can do per
host (a connection, an authenticated session, a remote interpreter start, one JSON reply). It
reads the lab's inventory (``lab.json`` names it) for addresses, checks host keys against the
lab's known_hosts, logs in with the lab's client key, and prints ``ok=N err=M`` (exit 1 when
any host failed). asyncssh's defaults otherwise, except that ~/.ssh/config and the agent are
not consulted (the lab names everything it needs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import asyncssh
import yaml

ONE_LINER = ("/usr/bin/python3 -c 'import json,sys;"
             "sys.stdout.write(json.dumps({\"ok\":1}))'")


def lab_hosts(lab_dir: Path) -> tuple[dict, list[tuple[str, str]]]:
    """(lab.json settings, [(name, address)]) in inventory order."""
    settings = json.loads((lab_dir / "lab.json").read_text())
    tree = yaml.safe_load(Path(settings["inventory"]).read_text())
    hosts: list[tuple[str, str]] = []

    def walk(group: dict) -> None:
        for name, values in (group.get("hosts") or {}).items():
            hosts.append((name, (values or {}).get("ansible_host", name)))
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(tree["all"])
    return settings, hosts


async def one(address: str, settings: dict, known, keys, limit: asyncio.Semaphore,
              held: list | None = None) -> bool:
    async with limit:
        try:
            conn = await asyncssh.connect(address, port=settings["port"],
                                          username=settings["user"], known_hosts=known,
                                          client_keys=keys, config=(), agent_path=None,
                                          connect_timeout=30)
        except (TimeoutError, OSError, asyncssh.Error):
            return False
        try:
            result = await conn.run(ONE_LINER, check=True, timeout=30)
            return json.loads(result.stdout).get("ok") == 1
        except (TimeoutError, OSError, asyncssh.Error, ValueError):
            return False
        finally:
            if held is None:
                conn.close()
                await conn.wait_closed()
            else:
                held.append(conn)


async def run(lab_dir: Path, conc: int, count: int | None, hold: bool = False) -> tuple[int, int]:
    settings, hosts = lab_hosts(lab_dir)
    if count:
        hosts = hosts[:count]
    known = asyncssh.read_known_hosts(str(lab_dir / "known_hosts"))
    keys = [asyncssh.read_private_key(str(lab_dir / "client_key"))]
    limit = asyncio.Semaphore(conc)
    held: list | None = [] if hold else None
    results = await asyncio.gather(*(one(addr, settings, known, keys, limit, held)
                                     for _, addr in hosts))
    for conn in held or []:
        conn.close()
    await asyncio.gather(*(conn.wait_closed() for conn in held or []))
    ok = sum(results)
    return ok, len(results) - ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lab_dir", type=Path)
    parser.add_argument("--conc", type=int, default=100, help="connections at once (100)")
    parser.add_argument("--hosts", type=int, default=None, help="only the first N hosts")
    parser.add_argument("--hold", action="store_true",
                        help="keep every connection open until all hosts answered (as a run of "
                        "orch does), instead of closing each one after its reply")
    args = parser.parse_args()
    ok, err = asyncio.run(run(args.lab_dir, args.conc, args.hosts, args.hold))
    print(f"ok={ok} err={err}")
    return 0 if err == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
