"""Profile one orch command by CPU time (not wall): where the controller's CPU goes.

    cd bench/results && ../../.venv/bin/python ../cpu_profile.py [--top 30] ../../.venv/bin/orch call rpcutil.ping

cProfile with ``time.process_time`` as its clock, so time spent waiting for hosts (or for a
core, on a loaded machine) does not count. Prints the functions with the most own CPU time and
the orch functions by cumulative CPU time. Profiler overhead inflates many small calls (asyncssh
packet handling) more than a few big ones: read shares, not absolute figures.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import runpy
import sys
import time


def main(argv: list[str]) -> int:
    top = 30
    if argv[:1] == ["--top"]:
        top, argv = int(argv[1]), argv[2:]
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    sys.argv = argv
    profiler = cProfile.Profile(time.process_time)
    stdout = sys.stdout
    sys.stdout = io.StringIO()  # the command's own output is not the point here
    try:
        profiler.runcall(runpy.run_path, argv[0], run_name="__main__")
    except SystemExit:
        pass
    finally:
        sys.stdout = stdout
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumtime").print_stats("orch/", top)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
