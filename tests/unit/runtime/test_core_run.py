"""The kit's one runner, ``orch_runtime.run``, running real programs (command, service and
package all run through it)."""

import os
import time
from pathlib import Path

import pytest

from orch.runtime import core


def _gone(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


def test_each_stream_is_capped_and_says_so():
    result = core.run(["sh", "-c", "head -c 5000 /dev/zero | tr '\\0' o; printf err >&2"],
                      cap=1000)
    assert result.rc == 0 and result.ok
    assert result.stdout == "o" * 1000 and result.stdout_truncated is True
    assert result.stderr == "err" and result.stderr_truncated is False
    assert result.truncated is True


def test_the_end_of_stderr_is_kept_past_the_cap():
    result = core.run(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x >&2; "
                                   "echo THE-END >&2; exit 3"], cap=1000)
    assert result.rc == 3 and not result.ok
    assert result.stderr == "x" * 1000 and result.stderr_truncated is True
    assert result.stderr_end.endswith("xTHE-END\n")
    assert len(result.stderr_end.encode()) == core.RUN_TAIL


def test_merged_output_keeps_the_order_it_was_written_in():
    result = core.run(["sh", "-c", "echo a; echo b >&2; echo c"], merge_output=True)
    assert result.stdout == "a\nb\nc\n" and result.stderr == ""


def test_stdin_env_and_cwd(tmp_path):
    secret = "s3cr3t-" + os.urandom(4).hex()
    result = core.run(["sh", "-c", "cat; echo; pwd; echo $ONLY; env | wc -l"], stdin=secret,
                      cwd=str(tmp_path), env={"PATH": core.RUN_PATH, "ONLY": "this"})
    lines = result.stdout.splitlines()
    assert lines[:3] == [secret, str(tmp_path), "this"]
    assert int(lines[3]) <= 4  # PATH, ONLY and what sh itself sets (PWD, SHLVL)
    big = "y" * 300_000  # more than a pipe holds: fed from a thread, no deadlock
    assert core.run(["wc", "-c"], stdin=big, timeout=20).stdout.strip() == "300000"


def test_a_timeout_kills_the_process_group_and_is_an_abort(tmp_path):
    pidfile = tmp_path / "child.pid"
    started = time.time()
    with pytest.raises(core.RunTimeout) as raised:
        core.run(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"], timeout=0.5)
    assert time.time() - started < 5
    assert isinstance(raised.value, core.Abort)
    assert str(raised.value) == "sh did not finish within 0.5s"
    assert raised.value.argv[0] == "sh" and raised.value.timeout == 0.5
    child = int(pidfile.read_text())
    deadline = time.time() + 5
    while not _gone(child) and time.time() < deadline:
        time.sleep(0.05)
    assert _gone(child)


def test_a_daemon_holding_the_output_does_not_hold_run(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    started = time.time()
    result = core.run(["sh", "-c", f"sleep 30 & echo $! > {pidfile}; echo started"], timeout=20)
    try:
        assert time.time() - started < 5
        assert result.rc == 0 and result.stdout == "started\n"
    finally:
        os.kill(int(pidfile.read_text()), 9)


def test_a_flood_of_output_does_not_fill_the_disk(monkeypatch):
    monkeypatch.setattr(core, "RUN_SPILL", 100_000)
    # 30 MB to stderr over about a second, then (after more than one of run's polls) the disk
    # blocks stderr's temporary file holds, printed to stdout.
    script = ("i=0; while [ $i -lt 30 ]; do head -c 1000000 /dev/zero >&2; sleep 0.03; "
              "i=$((i+1)); done; sleep 0.8; stat -L -c '%b %B' /proc/$$/fd/2")
    result = core.run(["sh", "-c", script], cap=1000, timeout=60)
    blocks, block_size = (int(word) for word in result.stdout.split())
    assert blocks * block_size < 1_000_000  # 30 MB written, all but the cap cut while it ran
    assert result.stderr_truncated is True and result.stderr == "\0" * 1000


def test_a_program_that_cannot_start_is_an_abort_naming_it():
    with pytest.raises(core.Abort) as raised:
        core.run(["/nonexistent/tool"])
    assert str(raised.value).startswith("cannot run /nonexistent/tool: ")
    with pytest.raises(TypeError):
        core.run("echo a shell line")


def test_which_finds_programs_on_the_run_path_only():
    found = core.which("sh")
    assert found and os.path.dirname(found) in core.RUN_PATH.split(":")
    assert os.access(found, os.X_OK)
    assert core.which("no-such-tool-orch") is None
