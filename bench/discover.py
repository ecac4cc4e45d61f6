"""Benchmark: offline discovery over 100,000 hosts (a script with a report, not a timed test).

Synthesizes, in a work folder, an INI inventory (host ranges) and a SQLite fact cache of
100,000 hosts with 20 facts each (some nested, e.g. os.release.major), then times, as
subprocesses (wall clock, interpreter start included):

    orch discover -S 'cluster=alfa and (web or os.release.major>=12)'
    orch facts cluster
    orch --help

and writes the figures into bench/REPORT.md (section "discover"). Targets: 0.5 s, 0.5 s, 0.2 s.

    .venv/bin/python bench/discover.py [--hosts 100000] [--runs 7] [--work DIR] [--no-report]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ORCH = Path(sys.executable).with_name("orch")
EXPRESSION = "cluster=alfa and (web or os.release.major>=12)"
CLUSTERS = ["alfa", "bravo", "charlie", "delta", "echo"]
TARGETS = {"discover": 0.5, "facts": 0.5, "help": 0.2}


def host_name(index: int) -> str:
    return f"node{index:06d}"


def write_inventory(folder: Path, count: int) -> Path:
    """Two range lines (web and db halves), agents for all: what a big INI inventory looks like."""
    half = count // 2
    path = folder / "fleet.ini"
    path.write_text(
        "[web]\n"
        f"node[000001:{half:06d}]\n\n"
        "[db]\n"
        f"node[{half + 1:06d}:{count:06d}]\n\n"
        "[all:vars]\n"
        "agents=rpcutil,appmgr,nrpe\n"
    )
    return path


def synth_facts(index: int, rng: random.Random) -> dict:
    major = rng.choice([10, 11, 12, 12, 13])
    return {
        "cluster": CLUSTERS[index % len(CLUSTERS)],
        "os": {"family": "debian", "release": {"major": major, "full": f"{major}.{rng.randint(0, 9)}"}},
        "kernel": "Linux",
        "kernelrelease": f"6.1.0-{rng.randint(1, 30)}-amd64",
        "architecture": "x86_64",
        "processorcount": rng.choice([2, 4, 8, 16]),
        "memorysize_mb": rng.choice([2048, 4096, 8192, 16384]),
        "ipaddress": f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}",
        "datacenter": rng.choice(["ams1", "fra1", "lon1"]),
        "environment": rng.choice(["production", "staging"]),
        "virtual": rng.choice(["kvm", "physical"]),
        "is_virtual": rng.random() < 0.8,
        "uptime_days": rng.randint(0, 400),
        "timezone": "UTC",
        "rack": f"r{rng.randint(1, 40):02d}",
        "role": rng.choice(["app", "cache", "worker"]),
        "revision": rng.randint(1, 30),
        "load": {"avg1": round(rng.random() * 4, 2)},
        "tags": ["managed", rng.choice(["blue", "green"])],
        "python": {"version": "3.11.2"},
    }


def build_cache(folder: Path, count: int) -> tuple[str, float]:
    sys.path.insert(0, str(REPO))
    from orch.facts import open_cache

    url = f"sqlite:///{folder}/facts.db"
    rng = random.Random(42)
    facts = {host_name(i): synth_facts(i, rng) for i in range(1, count + 1)}
    started = time.perf_counter()
    cache = open_cache(url)
    cache.put_many(facts)
    cache.close()
    return url, time.perf_counter() - started


def time_command(argv: list[str], folder: Path, runs: int) -> tuple[list[float], list[float], str]:
    """Wall and CPU (user + system) seconds of each run, and the last run's output.

    Bytecode caching stays on (as in any installed Python), whatever PYTHONDONTWRITEBYTECODE
    the calling shell has; CPU time is reported too because on a shared, loaded machine wall
    time measures the neighbours as much as orch.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("ORCH_") and key != "PYTHONDONTWRITEBYTECODE"}
    walls, cpus = [], []
    output = ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
        output = done.stdout
    return walls, cpus, output


def forget_memo(folder: Path) -> None:
    """Drop the cache's memoized columns, as a write (a gather, an import) would."""
    import sqlite3

    connection = sqlite3.connect(folder / "facts.db")
    with connection:
        connection.execute("DELETE FROM columns")
    connection.close()


def breakdown(folder: Path) -> dict[str, float]:
    """CPU seconds of the parts of one discovery, measured in this process (memo warm)."""
    sys.path.insert(0, str(REPO))
    from orch.facts import open_cache
    from orch.inventory import load_inventory
    from orch.select import Filter
    from orch.select.discovery import InventoryContext

    clock = time.process_time
    started = clock()
    inventory = load_inventory([str(folder / "fleet.ini")])
    loaded = clock()
    cache = open_cache(f"sqlite:///{folder}/facts.db")
    selector = Filter(compound=(EXPRESSION,)).compile()
    context = InventoryContext(inventory.hosts, cache, inventory)
    names = selector.select(context, list(inventory.hosts))
    done = clock()
    cache.close()
    assert names
    return {"inventory": loaded - started, "selection": done - loaded}


def update_report(section: str) -> Path:
    """Replace the "discover" section of bench/REPORT.md, keeping every other section."""
    from report_sections import replace_section

    path = REPO / "bench" / "REPORT.md"
    replace_section(path, "discover", section)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--work", help="work folder (default: a temporary one, removed after)")
    parser.add_argument("--no-report", action="store_true", help="print only, leave REPORT.md alone")
    options = parser.parse_args()

    folder = Path(options.work) if options.work else Path(tempfile.mkdtemp(prefix="orch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        inventory = write_inventory(folder, options.hosts)
        (folder / "orch.cfg").write_text(
            f"[defaults]\ninventory = {inventory.name}\nfact_cache = sqlite:///facts.db\n")
        if (folder / "facts.db").exists():
            (folder / "facts.db").unlink()
        _, build_seconds = build_cache(folder, options.hosts)
        size_mb = (folder / "facts.db").stat().st_size / 1e6

        commands = {
            "discover": [str(ORCH), "discover", "-S", EXPRESSION],
            "facts": [str(ORCH), "facts", "cluster"],
            "help": [str(ORCH), "--help"],
        }
        results = {}
        cold_walls, cold_cpus = [], []
        for _ in range(3):  # the first discovery after a write rebuilds the per-key memo
            forget_memo(folder)
            walls, cpus, _ = time_command(commands["discover"], folder, 1)
            cold_walls += walls
            cold_cpus += cpus
        for name, argv in commands.items():
            time_command(argv, folder, 1)  # warm the page cache, bytecode and column memo
            walls, cpus, output = time_command(argv, folder, options.runs)
            results[name] = (walls, cpus, output)
            print(f"{name:9s} wall median {statistics.median(walls):.3f}s min {min(walls):.3f}s "
                  f"max {max(walls):.3f}s; cpu median {statistics.median(cpus):.3f}s "
                  f"(target {TARGETS[name]}s)")
        parts = breakdown(folder)
        print(f"discover cold (memo rebuilt) wall best {min(cold_walls):.3f}s, cpu median "
              f"{statistics.median(cold_cpus):.3f}s; in-process cpu: inventory "
              f"{parts['inventory']:.3f}s, selection {parts['selection']:.3f}s")
        matched = len(results["discover"][2].split())
        report_head = results["facts"][2].splitlines()[:4]
        load = os.getloadavg()[0]
        niceness = os.nice(0)
        nice_text = f"; the benchmark ran under `nice -n {niceness}`" if niceness else ""
        print(f"discover matched {matched} hosts; cache built in {build_seconds:.1f}s ({size_mb:.0f} MB)")

        rows = []
        for name, argv in commands.items():
            walls, cpus, _ = results[name]
            shown = " ".join(arg if " " not in arg else f"'{arg}'" for arg in ["orch", *argv[1:]])
            wall_ok = "yes" if min(walls) <= TARGETS[name] else "no"
            cpu_ok = "yes" if statistics.median(cpus) <= TARGETS[name] else "no"
            rows.append(f"| `{shown}` | {min(walls):.3f} | {statistics.median(walls):.3f} | "
                        f"{statistics.median(cpus):.3f} | {TARGETS[name]} | {wall_ok} | {cpu_ok} |")
        section = f"""## discover

Offline discovery over a synthetic fleet of {options.hosts:,} hosts: an INI inventory of two
host ranges (`web` and `db` halves, `agents` in `[all:vars]`) and a SQLite fact cache of 20
facts per host, some nested (`os.release.major`, `load.avg1`), built with
`FactCache.put_many` in {build_seconds:.1f} s ({size_mb:.0f} MB). Each command runs as a
subprocess, wall clock including interpreter start; {options.runs} runs after one warm-up
(which also fills the cache's per-key memo and the bytecode cache), seconds. CPU is user +
system time of the process; the 1-minute load average at the end was {load:.1f} on
{os.cpu_count()} cores (other sessions' test suites share this machine{nice_text}). The best
wall time is the figure closest to an idle machine; CPU time hardly depends on the neighbours.

Reproduce: `.venv/bin/python bench/discover.py` (`--hosts N`, `--runs N`, `--work DIR`).

| command | wall best | wall median | CPU median | target | wall best ≤ target | CPU ≤ target |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

The first discovery after a write to the cache (a gather, an import) regroups each key it
reads and stores the result: best {min(cold_walls):.3f} s wall, {statistics.median(cold_cpus):.3f} s CPU
(median of 3). Where the warm CPU goes, measured in one process: loading the 100,000-host
inventory {parts['inventory']:.3f} s, selection (two keys, one class, set operations)
{parts['selection']:.3f} s; the rest is interpreter start, imports and printing.

`discover` matched {matched:,} hosts. `orch facts cluster` printed:

```
{chr(10).join(report_head)}
```

Measured {time.strftime('%Y-%m-%d')} on {platform.node() or 'this machine'}: {os.cpu_count()} cores,
Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}.

How it stays fast. The first version read all 100,000 rows of each key into a dict, merged
inventory facts host by host and tested each host: 1.6–1.9 s wall (measured under a load
average near 19). Now the cache keeps each host's facts flattened into (key, host, value)
rows clustered by key (besides one JSON document per host for exact round trips), so a test
reads one key's rows as native SQLite values; it then groups them by distinct value and
memoizes that grouping per key, tagged with the cache's generation (bumped by every write),
so a repeated discovery reads one small document per key and tests each distinct value once
(5 clusters, not 100,000 hosts). Tests run set at a time, one pass per leaf of the
expression, `and` narrowing the candidates of its later terms; classes come from the sets
the inventory shares between hosts of the same groups. The inventory load (a range line of
50,000 hosts, twice) is now the largest part.
"""
        if not options.no_report:
            print(f"wrote {update_report(section)}")
        else:
            print(section)
    finally:
        if not options.work:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
