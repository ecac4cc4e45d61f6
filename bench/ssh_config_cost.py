"""Controller CPU per host with and without a 200-entry ~/.ssh/config (issue 13).

    cd bench/results && ../../.venv/bin/python ../ssh_config_cost.py 8

Writes ``ssh_config.200`` here: 200 ``Host`` blocks (HostName, User, Port, IdentityFile,
ProxyJump on some, a few globs and negations) for names that are not the lab's, then a
``Match host 127.*`` and a ``Host *`` block that do apply to every lab host (ConnectTimeout,
ServerAliveInterval), so each host is matched against every block. Then runs ``cpu_ab.py``
with the variants ``none`` (orch.cfg ``ssh_config`` empty, via ``ORCH_SSH_CONFIG``) and
``cfg200`` (that file), rounds alternated, against the lab in ./orch.cfg. Extra variants
(``NAME=VAR:VALUE``, e.g. ``main=PYTHONPATH:/tmp/main``) are passed on.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cpu_ab  # noqa: E402


def write_config(path: Path, entries: int = 200) -> None:
    blocks = []
    for number in range(entries):
        lines = [f"Host app{number:03d} app{number:03d}.example.net",
                 f"    HostName 10.{number // 250}.{number % 250}.7",
                 f"    User deploy{number % 7}", f"    Port {2200 + number % 5}",
                 f"    IdentityFile ~/.ssh/id_app{number % 3}"]
        if number % 10 == 0:
            lines.append("    ProxyJump jump1")
        if number % 25 == 0:
            lines[0] = f"Host db{number}-* !db{number}-old"
        blocks.append("\n".join(lines))
    blocks.append("Match host 127.*\n    ConnectTimeout 10")
    blocks.append("Host *\n    ServerAliveInterval 15\n    IdentitiesOnly no")
    path.write_text("\n\n".join(blocks) + "\n")


def main(argv: list[str]) -> int:
    if not argv or not argv[0].isdigit():
        sys.stderr.write(__doc__)
        return 2
    config = Path.cwd() / "ssh_config.200"
    write_config(config)
    return cpu_ab.main([argv[0], "none=ORCH_SSH_CONFIG:", f"cfg200=ORCH_SSH_CONFIG:{config}",
                        *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
