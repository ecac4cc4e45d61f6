"""Where one orch command's CPU goes, sampled on the process's own CPU clock, over N runs.

    cd bench/results && ../../.venv/bin/python ../cpu_sample.py 20 ../../.venv/bin/orch call rpcutil.ping

Each run executes the command in this interpreter under ``setitimer(ITIMER_PROF)``: the kernel
signals the process after each slice of its own user + system CPU, and the handler records the
Python stack it interrupted. A sample therefore means CPU spent there, never time spent waiting
for a core. py-spy (``spy_profile.py``) samples the wall clock and keeps the samples of a thread
it does not see blocked, so on a loaded 2-core machine a controller that is runnable but
preempted (the lab's sshd woken by its last write got the core) is charged to whatever it was
doing: at 200 hosts py-spy put 35 % of the run in asyncio's socket write, while the process's
whole system time was 14 % of its CPU (``getrusage``). Time in C code (a system call, OpenSSL,
SQLite) is charged to the Python function that called it. The kernel delivers the signal at
its tick, so a run gives few samples (about one per 4 ms of CPU): use 20 runs or more.

Prints the share of samples in which each function is on the stack, the functions most often
at the top, and the share spent importing.
"""

from __future__ import annotations

import collections
import io
import runpy
import signal
import subprocess
import sys
from pathlib import Path

INTERVAL = 0.0005  # seconds of CPU; the kernel rounds it up to its tick


def label(code) -> str:
    """``function [package/file.py:line]`` for a code object, site-packages stripped."""
    where = code.co_filename.split("site-packages/")[-1].split("python3.11/")[-1]
    return f"{code.co_qualname} [{Path(where).as_posix()}:{code.co_firstlineno}]"


class Samples:
    """Stacks counted by the top function (own) and by every function on them (on the stack)."""

    def __init__(self) -> None:
        self.own: collections.Counter = collections.Counter()
        self.on_stack: collections.Counter = collections.Counter()
        self.total = 0
        self.importing = 0

    def add(self, frame) -> None:
        self.total += 1
        seen: set[str] = set()
        importing = False
        top = True
        while frame is not None:
            name = label(frame.f_code)
            importing = importing or frame.f_code.co_name == "_find_and_load"
            if top:
                self.own[name] += 1
                top = False
            if name not in seen:
                seen.add(name)
                self.on_stack[name] += 1
            frame = frame.f_back
        self.importing += importing

    def merge(self, lines: list[str]) -> None:
        """Add what ``dump`` wrote (one run's samples, from a child process)."""
        for line in lines:
            kind, _, rest = line.partition(" ")
            count, _, name = rest.partition(" ")
            if kind == "own":
                self.own[name] += int(count)
            elif kind == "stack":
                self.on_stack[name] += int(count)
            elif kind == "total":
                self.total += int(count)
            elif kind == "importing":
                self.importing += int(count)

    def dump(self) -> str:
        lines = [f"total {self.total} -", f"importing {self.importing} -"]
        lines += [f"own {count} {name}" for name, count in self.own.items()]
        lines += [f"stack {count} {name}" for name, count in self.on_stack.items()]
        return "\n".join(lines) + "\n"

    def report(self, top: int = 40) -> str:
        total = self.total or 1
        out = [f"{self.total} samples, {self.importing * 100 / total:.0f}% of them importing"]
        out.append("-- at the top (own time, C calls included)")
        out += [f"{count * 100 / total:5.1f}%  {name}" for name, count in self.own.most_common(top)]
        out.append("-- on the stack")
        out += [f"{count * 100 / total:5.1f}%  {name}"
                for name, count in self.on_stack.most_common(top * 2)]
        return "\n".join(out)


def sample_one(argv: list[str]) -> Samples:
    """Run the script ``argv[0]`` here, as ``__main__``, sampling its CPU; output discarded."""
    samples = Samples()
    signal.signal(signal.SIGPROF, lambda _signum, frame: samples.add(frame))
    sys.argv = argv
    stdout, sys.stdout = sys.stdout, io.StringIO()
    signal.setitimer(signal.ITIMER_PROF, INTERVAL, INTERVAL)
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit:
        pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        sys.stdout = stdout
    return samples


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:  # a child: one run, its samples on stdout
        sys.stdout.write(sample_one(argv[1:]).dump())
        return 0
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write(__doc__)
        return 2
    runs, command = int(argv[0]), argv[1:]
    everything = Samples()
    for _ in range(runs):  # a fresh interpreter each run, so start-up counts every time
        done = subprocess.run([sys.executable, __file__, "--one", *command],
                              capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(f"cpu_sample.py: run failed: {done.stderr.strip()[-300:]}\n")
            return 1
        everything.merge(done.stdout.splitlines())
    print(f"{runs} runs of {' '.join(command)}")
    print(everything.report())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
