"""bench/timed.py counts what a tool really costs; bench/run.py reads each tool's success count.

The wrapper is run for real on small commands whose CPU is known: a child that daemonizes (as
ssh ControlPersist masters do) must still be counted and ended, or Ansible would look cheaper
than it is.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TIMED = REPO / "bench" / "timed.py"


def _run_module():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _timed(tmp_path: Path, code: str) -> dict:
    result, log = tmp_path / "result.json", tmp_path / "log.txt"
    subprocess.run([sys.executable, str(TIMED), str(result), str(log), "--",
                    sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=60)
    return json.loads(result.read_text())


def test_counts_the_cpu_of_a_child_that_daemonized(tmp_path):
    done = tmp_path / "daemon-done"
    code = f"""
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:          # the grandchild escapes, as a ControlPersist master does
            started = time.process_time()
            while time.process_time() - started < 0.4:
                pass
            open({str(done)!r}, "w").close()
            time.sleep(300)         # and lingers until the wrapper ends it
        os._exit(0)
    os.wait()
    deadline = time.monotonic() + 30
    while not os.path.exists({str(done)!r}) and time.monotonic() < deadline:
        time.sleep(0.02)
    """
    measured = _timed(tmp_path, code)
    assert measured["leftovers_ended"] >= 1
    assert measured["exit"] == 0
    assert measured["cpu"] >= 0.35, measured


def test_ends_what_the_command_left_running_and_returns(tmp_path):
    code = """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(300)
        os._exit(0)
    os.wait()
    """
    started = time.monotonic()
    measured = _timed(tmp_path, code)
    assert time.monotonic() - started < 20
    assert measured["leftovers_ended"] >= 1
    assert measured["max_rss_kib"] > 0


def test_success_counts_from_each_tools_output():
    run = _run_module()
    ansible = "dev1 | SUCCESS => {\n}\ndev2 | UNREACHABLE! => {\n}\ndev3 | SUCCESS => {\n}\n"
    assert run._count(r"\| SUCCESS =>", multi=True)(ansible) == 2
    orch = "done rpcutil#ping [discovered=3 responses=3 failcount=1 okcount=2 totaltime=0.4]"
    assert run._count(r"okcount=(\d+)")(orch) == 2
    play = ("done a [okcount=198 totaltime=1]\ndone b [okcount=197 totaltime=1]\n")
    assert run._count_orch_play(play) == 197
    recap = ("dev1                       : ok=5    changed=0    unreachable=0    failed=0\n"
             "dev2                       : ok=4    changed=0    unreachable=0    failed=1\n")
    assert run._count_recap(5)(recap) == 1
    pyinfra = ("--> Results:\n"
               "    Operation                Hosts   Success   Error   No Change\n"
               "    rpcutil.ping (true)      10      10        -       -\n"
               "    check_load               10      9         1       -\n"
               "    Grand total              20      19        1       -\n")
    assert run._count_pyinfra(pyinfra) == 9
    assert run._count_pyinfra("no results table") == 0


def test_pair_ratios_are_taken_round_by_round():
    run = _run_module()
    rounds = [[{"variant": "a", "wall": 10.0}, {"variant": "b", "wall": 2.0}],
              [{"variant": "a", "wall": 12.0}, {"variant": "b", "wall": 4.0}]]
    ratios = run.pair_ratios(rounds, [("a", "b")])["a / b"]
    assert ratios["values"] == [5.0, 3.0]
    assert ratios["median"] == 4.0
    assert abs(run.slope([(50, 1.0), (100, 2.0), (200, 4.0)]) - 0.02) < 1e-12


def test_cpu_ab_reads_variants_and_refuses_a_bad_command_line(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_cpu_ab", REPO / "bench" / "cpu_ab.py")
    cpu_ab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cpu_ab)
    monkeypatch.setenv("ORCH_SSH_TUNING", "1")
    name, env = cpu_ab.variant("stock=ORCH_SSH_TUNING:0,ORCH_X:a:b")
    assert name == "stock" and env["ORCH_SSH_TUNING"] == "0" and env["ORCH_X"] == "a:b"
    assert cpu_ab.variant("tuned=")[1]["ORCH_SSH_TUNING"] == "1"
    assert cpu_ab.main(["stock=ORCH_SSH_TUNING:0"]) == 2


def test_spy_profile_reads_py_spy_raw_stacks():
    spec = importlib.util.spec_from_file_location("bench_spy", REPO / "bench" / "spy_profile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw = ("<module> (orch:6);run (orch/cli/commands/call.py:66);send (asyncssh/connection.py:1) 7\n"
           "<module> (orch:6);_find_and_load (<frozen importlib._bootstrap>:1176) 3\n")
    samples = module._samples(raw)
    assert [count for _, count in samples] == [7, 3]
    assert module._name(samples[0][0][-1]) == "send [connection.py]"


def test_cpu_sample_counts_cpu_not_waiting(tmp_path):
    """bench/cpu_sample.py charges the function that burned CPU, never the one that waited."""
    script = tmp_path / "work.py"
    script.write_text(textwrap.dedent("""
        import time

        def busy():
            started = time.process_time()
            while time.process_time() - started < 0.3:
                pass

        def idle():
            time.sleep(0.6)

        busy()
        idle()
    """))
    done = subprocess.run([sys.executable, str(REPO / "bench" / "cpu_sample.py"), "2",
                           str(script)], capture_output=True, text=True, timeout=60, check=True)
    on_stack = {}
    for line in done.stdout.split("-- on the stack", 1)[1].splitlines():
        share, _, name = line.strip().partition("%  ")
        if name:
            on_stack[name.split(" [")[0]] = float(share)
    assert on_stack.get("busy", 0) > 80, done.stdout
    assert on_stack.get("idle", 0) < 5, done.stdout
