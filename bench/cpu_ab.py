"""Controller CPU of ``orch call rpcutil.ping`` under environment variants, rounds alternated.

    cd bench/results && ../../.venv/bin/python ../cpu_ab.py 10 stock=ORCH_SSH_TUNING:0 tuned=

Each variant is ``NAME=VAR:VALUE,VAR:VALUE`` (empty: the environment as it is). Every round
runs each variant twice, against one host (``-I dev1``: start-up plus one host) and against
every host of the lab in ./orch.cfg, and takes the CPU (user + system) of the orch process.
Prints medians over the rounds (after one warm-up round): the one-host and all-host CPU, the
wall time of the all-host run, and the per-host slope between the two; then each round's
all-host CPU and its difference from the first variant's in the same round (median and range
over the rounds: pairing by round cancels much of the noise of a shared machine). For changes
too small for ``bench/run.py scale`` to show through that noise. Against another checkout:
``orig=PYTHONPATH:/path/to/checkout`` (its ``orch`` package is imported first).
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from time import monotonic

ORCH = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "orch"


def variant(spec: str) -> tuple[str, dict]:
    name, _, assignments = spec.partition("=")
    env = dict(os.environ)
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition(":")
        env[key] = value
    return name, env


def cpu_of(env: dict, extra: list[str]) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, hosts answered) of one ``orch call rpcutil.ping``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = monotonic()
    done = subprocess.run([str(ORCH), "call", "rpcutil.ping", *extra], env=env,
                          capture_output=True, text=True)
    wall = monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"orch call failed ({done.returncode}): {done.stderr[-500:]}")
    found = re.search(r"okcount=(\d+)", done.stdout)
    answered = int(found.group(1)) if found else 0
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, answered


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write(__doc__)
        return 2
    rounds = int(argv[0])
    variants = [variant(spec) for spec in argv[1:]]
    results: dict[str, list[tuple]] = {name: [] for name, _ in variants}
    for number in range(rounds + 1):
        for name, env in variants:
            one = cpu_of(env, ["-I", "dev1"])
            every = cpu_of(env, [])
            if number:  # round 0 warms caches up
                results[name].append((one[0], every[0], every[1], every[2]))
    for name, rows in results.items():
        one = statistics.median(row[0] for row in rows)
        every = statistics.median(row[1] for row in rows)
        wall = statistics.median(row[2] for row in rows)
        hosts = rows[0][3]
        low, high = min(row[1] for row in rows), max(row[1] for row in rows)
        print(f"{name:10s} 1 host {one * 1000:.0f} ms  {hosts} hosts {every * 1000:.0f} ms "
              f"[{low * 1000:.0f}-{high * 1000:.0f}]  wall {wall:.2f} s  "
              f"slope {(every - one) / max(hosts - 1, 1) * 1000:.2f} ms/host  "
              f"average {every / max(hosts, 1) * 1000:.2f} ms/host")
    base = results[variants[0][0]]
    for name, rows in results.items():  # paired by round: the noise of a shared machine cancels
        diffs = [(row[1] - first[1]) / first[1] * 100
                 for row, first in zip(rows, base, strict=True)]
        print(f"{name:10s} per round {' '.join(f'{row[1] * 1000:.0f}' for row in rows)} ms;  "
              f"vs {variants[0][0]}: median {statistics.median(diffs):+.1f} % "
              f"[{min(diffs):+.1f} .. {max(diffs):+.1f}]")
    print(f"load average {os.getloadavg()[0]:.1f}, {rounds} rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
