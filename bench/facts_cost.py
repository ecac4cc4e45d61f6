"""Host CPU of ``rpcutil.inventory``'s fact gather (issue 14: at most 30 ms per gather).

    .venv/bin/python bench/facts_cost.py [--runs 50] [--facter-runs 5] [--write]

Three measurements, all on this machine with the hosts' interpreter (/usr/bin/python3):

1. in-process: a ``/usr/bin/python3 -I -S`` child loads ``modules/rpcutil.py`` afresh
   (compile + exec, as the runtime does with a module frame, then the lazily compiled
   FACTS_SOURCE) and runs ``collect`` (system facts + /etc/orch/facts.d + classes files),
   ``--runs`` times, each timed with ``time.process_time``; the first gather of a process
   (imports of pwd, grp, fcntl, struct) is measured in ``--runs`` // 5 children of its own;
2. the real runtime: ``/usr/bin/python3 -I -S -c <bootstrap>`` fed the runtime, the rpcutil
   module and one request, ``--runs`` times for ``ping`` and for ``inventory``; the difference
   of the medians of the child's user+sys CPU is what a gather adds to a host's work (its
   imports, the JSON of a ~10 KB reply and the frame included);
3. with Facter (``facter=true``): the same runtime run, ``--facter-runs`` times; the child's
   CPU includes Facter's, as a host pays it.

``--write`` puts the table in bench/REPORT.md's ``facts`` section.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report_sections import replace_section  # noqa: E402
from orch.runtime import bootstrap  # noqa: E402
from orch.runtime.core import encode_frame  # noqa: E402

PYTHON = "/usr/bin/python3"
MODULE = REPO / "modules" / "rpcutil.py"

IN_PROCESS = r"""
import json, sys, time
from types import SimpleNamespace
path, runs = sys.argv[1], int(sys.argv[2])
source = open(path).read()
host = SimpleNamespace(name="bench", state_dir=sys.argv[3], facts={}, classes=[], agents=[])
spent = []
for _ in range(runs):
    started = time.process_time()
    namespace = {"__name__": "orch_module_rpcutil", "__file__": path}
    exec(compile(source, path, "exec"), namespace)
    result = namespace["facts_code"]()["collect"](host, False)
    spent.append((time.process_time() - started) * 1000)
sys.stdout.write(json.dumps({"ms": spent, "notes": result["notes"],
                             "size": len(json.dumps(result))}))
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def child_cpu_ms(argv: list[str], stdin: bytes, env: dict) -> tuple[float, bytes]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return spent, done.stdout


def runtime_frames(action: str, args: dict) -> bytes:
    source = MODULE.read_bytes()
    return (bootstrap.payload()
            + encode_frame({"kind": "module", "name": "rpcutil",
                            "hash": hashlib.sha256(source).hexdigest(), "source": source.decode()})
            + encode_frame({"kind": "request", "reqid": uuid.uuid4().hex, "caller": "bench",
                            "module": "rpcutil", "action": action, "args": args, "timeout": 10})
            + encode_frame({"kind": "exit"}))


def runtime_runs(action: str, args: dict, runs: int, env: dict) -> list[float]:
    frames = runtime_frames(action, args)
    times = []
    for _ in range(runs):
        spent, out = child_cpu_ms([PYTHON, "-I", "-S", "-c", bootstrap.COMMAND], frames, env)
        if b'"status":"OK"' not in out.replace(b" ", b""):
            raise SystemExit(f"rpcutil.{action} did not answer OK: {out[-300:]!r}")
        times.append(spent)
    return times


def row(label: str, values: list[float]) -> str:
    return (f"| {label} | {len(values)} | {percentile(values, 0.5):.1f} | "
            f"{percentile(values, 0.9):.1f} | {min(values):.1f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--facter-runs", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/REPORT.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        Path(state, "host.json").write_text(json.dumps({"name": "bench", "agents": ["rpcutil"]}))
        def in_process(runs: int) -> dict:
            done = subprocess.run([PYTHON, "-I", "-S", "-c", IN_PROCESS, str(MODULE),
                                   str(runs), state], capture_output=True, text=True, check=True)
            return json.loads(done.stdout)

        measured = in_process(args.runs + 1)
        rest = measured["ms"][1:]
        first = [in_process(1)["ms"][0] for _ in range(max(1, args.runs // 5))]
        env = {"PATH": "/usr/bin:/bin", "HOME": state, "ORCH_STATE_DIR": state}
        ping = runtime_runs("ping", {}, args.runs, env)
        inventory = runtime_runs("inventory", {}, args.runs, env)
        facter = (runtime_runs("inventory", {"facter": True}, args.facter_runs, env)
                  if shutil.which("facter", path=env["PATH"]) and args.facter_runs else [])
    lines = [
        "## facts (host CPU of one `rpcutil.inventory` gather)",
        "",
        f"`{Path(sys.argv[0]).as_posix()} --runs {args.runs} --facter-runs {args.facter_runs}`"
        f" on this machine ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), "
        f"{PYTHON} {subprocess.run([PYTHON, '-V'], capture_output=True, text=True).stdout.split()[1]}."
        " Budget: 30 ms of host CPU per gather.",
        "",
        "| measurement | runs | median ms | p90 ms | min ms |",
        "|---|---|---|---|---|",
        row("in-process: first gather of a process (compiles, imports, all sources)", first),
        row("in-process: fresh module load + gather (system facts, facts.d, classes)", rest),
        row("runtime process + rpcutil.ping (user+sys)", ping),
        row("runtime process + rpcutil.inventory (user+sys)", inventory),
    ]
    added = percentile(inventory, 0.5) - percentile(ping, 0.5)
    lines.append(f"| inventory − ping (what a gather adds, medians) | | {added:.1f} | | |")
    if facter:
        lines.append(row("runtime process + rpcutil.inventory facter=true (Facter's CPU "
                         "included)", facter))
    worst = max(percentile(first, 0.9), added)
    lines += ["", f"Against the budget: a process's first gather costs {percentile(first, 0.5):.1f} "
              f"ms median, {percentile(first, 0.9):.1f} ms p90; the runtime run adds {added:.1f} "
              f"ms to a ping's: {'within' if worst <= 30 else 'OVER'} 30 ms."
              + (f" With Facter a gather costs {percentile(facter, 0.5):.0f} ms, "
                 f"{percentile(facter, 0.5) / percentile(first, 0.5):.0f}x the system facts' "
                 "first gather (Ruby's start-up and Facter's resolvers)." if facter else ""),
              "", f"Reply of the in-process gather: {measured['size']} bytes of JSON; notes: "
              f"{measured['notes'] or 'none'}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(REPO / "bench" / "REPORT.md", "facts", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
