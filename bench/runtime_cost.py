"""CPU one host spends on orch's remote runtime for one ``rpcutil.ping``, without SSH.

    .venv/bin/python bench/runtime_cost.py [STATE_DIR] [--runs 25]

Runs, as a local child process, exactly what a host runs: ``/usr/bin/python3 -I -S -c
<first stage>`` fed the compressed runtime, the rpcutil module frame, one ping request and
``exit``; and, for comparison, the floor's ``python3 -c`` JSON one-liner and an empty
``python3 -I -S -c pass``. Prints min / median CPU (user+sys of the child) in milliseconds.
STATE_DIR is a lab host's state folder (default: the bench lab's dev1); without one the
runtime still starts (facts empty). This is the part of the fleet-side cost that orch's own code
decides; sshd's share (key exchange, auth, session) is the same for every tool.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orch.runtime import bootstrap  # noqa: E402
from orch.runtime.core import encode_frame  # noqa: E402


def child_cpu_ms(argv: list[str], stdin: bytes, env: dict) -> tuple[float, bytes]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return spent, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state_dir", nargs="?",
                        default=str(REPO / "bench" / "results" / "lab" / "hosts" / "dev1"))
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    source = (REPO / "modules" / "rpcutil.py").read_bytes()
    frames = (bootstrap.payload()
              + encode_frame({"kind": "module", "name": "rpcutil",
                              "hash": hashlib.sha256(source).hexdigest(),
                              "source": source.decode()})
              + encode_frame({"kind": "request", "reqid": uuid.uuid4().hex, "caller": "bench",
                              "module": "rpcutil", "action": "ping", "args": {}, "timeout": 10})
              + encode_frame({"kind": "exit"}))
    env = dict(os.environ, ORCH_STATE_DIR=args.state_dir)
    cases = [
        ("python3 -I -S -c pass", ["/usr/bin/python3", "-I", "-S", "-c", "pass"], b""),
        ("floor one-liner", ["/usr/bin/python3", "-c",
                             "import json,sys;sys.stdout.write(json.dumps({'ok':1}))"], b""),
        ("orch runtime + rpcutil.ping", ["/usr/bin/python3", "-I", "-S", "-c",
                                         bootstrap.COMMAND], frames),
    ]
    for label, argv, stdin in cases:
        times = []
        for _ in range(args.runs):
            spent, out = child_cpu_ms(argv, stdin, env)
            times.append(spent)
        if stdin and b'"status":"OK"' not in out.replace(b" ", b""):
            print(f"{label}: the ping did not answer OK: {out[-200:]!r}")
            return 1
        times.sort()
        print(f"{label:30} min {times[0]:5.1f} ms   median {times[len(times) // 2]:5.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
