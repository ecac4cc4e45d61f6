"""Where one orch command's CPU goes, sampled by py-spy over several runs (no profiler overhead).

    cd bench/results && ../../.venv/bin/python ../spy_profile.py 6 ../../.venv/bin/orch call rpcutil.ping

Runs the command N times under ``py-spy record --format raw`` (py-spy drops samples of an idle
thread, so time spent waiting for hosts does not count), then prints, for the samples outside
imports (the run) and for all of them, the share of samples in which each function is on the
stack, and the functions most often at the top of it. cProfile (``cpu_profile.py``) inflates
the many small calls of asyncssh's packet path; sampling does not. Needs py-spy:
``.venv/bin/pip install py-spy`` (a profiling tool, not a dependency of orch).
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RATE = 1500  # samples per second
IMPORTING = "_find_and_load"


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _samples(raw: str) -> list[tuple[list[str], int]]:
    samples = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


def _name(frame: str) -> str:
    """``func (path/file.py:12)`` → ``func [file.py]``."""
    function, _, where = frame.partition(" (")
    return f"{function} [{where.split(':')[0].rsplit('/', 1)[-1]}]"


def _report(title: str, samples: list[tuple[list[str], int]], top: int) -> None:
    total = sum(count for _, count in samples) or 1
    inclusive: collections.Counter = collections.Counter()
    leaf: collections.Counter = collections.Counter()
    for frames, count in samples:
        for name in {_name(frame) for frame in frames}:
            inclusive[name] += count
        leaf[_name(frames[-1])] += count
    print(f"== {title}: {total} samples")
    print("-- on the stack")
    for name, count in inclusive.most_common(top):
        print(f"{count * 100 / total:5.1f}%  {name}")
    print("-- at the top (own time)")
    for name, count in leaf.most_common(top // 2):
        print(f"{count * 100 / total:5.1f}%  {name}")


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        sys.stderr.write(__doc__)
        return 2
    spy = _py_spy()
    if spy is None:
        sys.stderr.write("spy_profile.py: py-spy not found (.venv/bin/pip install py-spy)\n")
        return 2
    runs, command = int(argv[0]), argv[1:]
    samples: list[tuple[list[str], int]] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(runs):
            out = Path(folder) / f"run{number}.txt"
            done = subprocess.run([spy, "record", "-r", str(RATE), "-f", "raw", "-o", str(out),
                                   "--", sys.executable, *command], capture_output=True, text=True)
            if not out.exists():
                sys.stderr.write(f"spy_profile.py: py-spy failed: {done.stderr.strip()[-300:]}\n")
                return 1
            samples += _samples(out.read_text())
    running = [(frames, count) for frames, count in samples
               if not any(IMPORTING in frame for frame in frames)]
    _report(f"the run (imports left out), {runs} runs", running, 60)
    _report(f"everything, {runs} runs", samples, 30)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
