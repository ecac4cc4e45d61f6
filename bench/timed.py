"""Run one command and report what it cost the controller: wall, CPU of its whole tree, memory.

    python bench/timed.py RESULT.json LOG [--server-pid PID] -- CMD [ARG ...]

Why a wrapper: the CPU of a tool is the CPU of every process it starts. ``getrusage
(RUSAGE_CHILDREN)`` after ``wait`` adds up every descendant that was waited for, but ssh
ControlPersist masters (Ansible's default) daemonize and would escape. This wrapper makes itself
a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so orphaned descendants are re-parented
to it instead of to init; when the command exits it ends whatever it left behind (by pid, only
its own descendants), reaps them, and only then reads the rusage: the masters' CPU is counted.

Memory: ``ru_maxrss`` is the peak of the largest single process (the whole tool for orch, one
fork for Ansible); ``tree_peak_rss_kib`` samples the summed RSS of all descendants every 0.5 s
(coarse, and shared pages count once per process, but it shows Ansible's forks).

Server CPU (``--server-pid``, the lab's listening sshd): the sshd is moved into a cgroup-v1
cpuacct group of its own (``orch-bench-sshd``), which every session, shell and remote
``python3`` it forks inherits, so the group's ``cpuacct.usage`` growth over the run, read once
the sessions have ended, is the fleet side's CPU for that run (the sshd's own cutime would miss
the session grandchildren: sshd does not wait for them). ``server_cpu`` is null where cgroup v1
cpuacct is not writable. Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY = 0.5


def _proc_stats():
    """``(pid, fields)`` for every process, fields being /proc/PID/stat after the command name
    (fields[1] is the parent pid, fields[21] the RSS in pages)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stream:
                stat = stream.read()
        except OSError:
            continue
        yield int(entry), stat[stat.rfind(b")") + 2:].split()


def _children_of(pid: int) -> list[int]:
    return [child for child, fields in _proc_stats() if int(fields[1]) == pid]


CPUACCT = "/sys/fs/cgroup/cpuacct/orch-bench-sshd"


def _server_group(pid: int) -> str | None:
    """The cpuacct group holding ``pid`` (created, and ``pid`` moved in, on first use)."""
    try:
        os.makedirs(CPUACCT, exist_ok=True)
        with open(os.path.join(CPUACCT, "cgroup.procs")) as stream:
            if str(pid) not in stream.read().split():
                with open(os.path.join(CPUACCT, "cgroup.procs"), "w") as procs:
                    procs.write(str(pid))
        return CPUACCT
    except OSError:
        return None


def _group_cpu(group: str) -> float:
    with open(os.path.join(group, "cpuacct.usage")) as stream:
        return int(stream.read()) / 1e9


def _server_settled(pid: int, timeout: float = 10.0) -> None:
    """Wait until the server has no session children left (they are reaped, CPU counted)."""
    deadline = time.monotonic() + timeout
    while _children_of(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tree_rss_kib(root: int) -> int:
    """Summed RSS of ``root``'s descendants (one /proc walk, parent links followed in memory)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    for pid, fields in _proc_stats():
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * page_kib
    total = 0
    for pid, kib in rss.items():
        node, depth = pid, 0
        while node in parents and depth < 64:
            node = parents[node]
            depth += 1
            if node == root:
                total += kib
                break
    return total


def main(argv: list[str]) -> int:
    server_pid = None
    if len(argv) > 4 and argv[2] == "--server-pid":
        server_pid = int(argv[3])
        argv = argv[:2] + argv[4:]
    if len(argv) < 4 or argv[2] != "--":
        sys.stderr.write(__doc__)
        return 2
    result_path, log_path, command = argv[0], argv[1], argv[3:]
    group = _server_group(server_pid) if server_pid else None
    server_before = None
    if group:
        _server_settled(server_pid)
        server_before = _group_cpu(group)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    me = os.getpid()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_EVERY):
            peak[0] = max(peak[0], _tree_rss_kib(me))

    sampler = threading.Thread(target=sample, daemon=True)
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        sampler.start()
        code = process.wait()
        command_wall = time.monotonic() - started
        leftovers = _children_of(me)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                if time.monotonic() > deadline:
                    for pid in _children_of(me):
                        os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + 5
                time.sleep(0.01)
        wall = time.monotonic() - started
    done.set()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = None
    if group and server_before is not None:
        _server_settled(server_pid)
        server_cpu = round(_group_cpu(group) - server_before, 3)
    result = {
        "command": command,
        "exit": code,
        "wall": round(wall, 4),
        "command_wall": round(command_wall, 4),
        "cpu_user": round(usage.ru_utime, 4),
        "cpu_sys": round(usage.ru_stime, 4),
        "cpu": round(usage.ru_utime + usage.ru_stime, 4),
        "max_rss_kib": usage.ru_maxrss,
        "tree_peak_rss_kib": max(peak[0], usage.ru_maxrss),
        "leftovers_ended": len(leftovers),
        "server_cpu": server_cpu,
    }
    with open(result_path, "w") as stream:
        json.dump(result, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
