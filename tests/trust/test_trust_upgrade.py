"""A rolling trust upgrade (issue 17): new code is refused by every restricted host, naming the
module and the hash it got, until ``orch host trust MODULE --batch 1`` has reached that
host; stopped half-way, calls show exactly which hosts trust the new code; finished, every host
runs it.

Several restricted hosts need several ``/etc``s: the realistic fleet has one host with its own
(web4, tests/trust/test_restricted.py), so the rollout runs on a restricted lab (``orch lab up
--restricted``: the lab key logs in as root with the real gate as sshd's forced command, a
root-owned ``trusted.d`` per lab host; tests/trust/test_restricted_lab.py checks the lab itself). The changed module is the shipped appmgr with one line more, found first on the
module path.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import (
    REPO,
    lab_prerequisites_missing,
    make_lab_dirs,
    orch_command,
    run_orch,
    start_lab,
    stop_lab,
)

pytestmark = pytest.mark.lab
APPS = ("dev1", "dev2", "dev3", "dev4")


@pytest.fixture(scope="module")
def rlab():
    missing = lab_prerequisites_missing()
    if missing:
        pytest.fail(f"the lab cannot start: {missing}")
    lab_dir, workdir = make_lab_dirs("orch-rlab-")
    try:
        lab = start_lab(lab_dir, workdir, n=len(APPS), extra=("--restricted",))
        changed = workdir / "changed"
        changed.mkdir()
        source = (REPO / "modules" / "appmgr.py").read_text() + "# one line more\n"
        (changed / "appmgr.py").write_text(source)
        config = (workdir / "orch.cfg").read_text().replace(
            f"module_paths = {REPO / 'modules'}", f"module_paths = {changed}:{REPO / 'modules'}")
        (changed / "orch.cfg").write_text(config.replace(
            f"journal = sqlite:///{workdir / 'journal.db'}",
            f"journal = sqlite:///{changed / 'journal.db'}"))
        lab.changed = changed
        lab.digest = hashlib.sha256(source.encode()).hexdigest()
        yield lab
    finally:
        stop_lab(lab_dir, workdir)


def statuses(lab, folder: Path) -> dict[str, tuple[str, str]]:
    result = run_orch(["call", "appmgr.status", "-C", "web", "--json"], folder)
    return {event["host"]: (event["status"], event["message"])
            for event in map(json.loads, result.stdout.splitlines())
            if event["type"] == "HostReplied"}


def trusting(lab) -> set[str]:
    return {host for host in APPS
            if (Path(lab.dir) / "hosts" / host / "trusted.d" / lab.digest).exists()}


def test_the_restricted_lab_runs_the_shipped_code_through_the_gate(rlab):
    assert 'restrict,command="/usr/bin/python3 -I -S ' in (Path(rlab.dir) / "authorized_keys").read_text()
    assert {status for status, _ in statuses(rlab, rlab.workdir).values()} == {"OK"}
    [run] = json.loads(run_orch(["runs", "--json", "-n", "1"], rlab.workdir, check=True).stdout)
    assert run["modes"] == {"restricted": len(APPS)}
    audit = (Path(rlab.dir) / "hosts" / "dev1" / "audit.log").read_text().splitlines()
    assert audit[-1].endswith("result=allowed reason=policy status=OK")


def test_a_changed_module_is_refused_everywhere_naming_its_hash(rlab):
    replies = statuses(rlab, rlab.changed)
    assert sorted(replies) == list(APPS)
    for status, message in replies.values():
        assert status == "Aborted"
        assert f"module appmgr sha256 {rlab.digest} is not trusted on this host" in message
    result = run_orch(["call", "appmgr.status", "-C", "web"], rlab.changed)
    assert result.code == 1
    summary = result.stdout[result.stdout.index("Failed hosts"):]
    assert all(f"{host}: Aborted: module appmgr sha256 {rlab.digest}" in summary for host in APPS)
    audit = (Path(rlab.dir) / "hosts" / "dev2" / "audit.log").read_text().splitlines()
    assert " agent=appmgr action=status " in audit[-1] and " result=refused " in audit[-1]


def test_a_rolling_trust_stopped_half_way_then_finished(rlab):
    argv = ["host", "trust", "appmgr", "-b", "-C", "web", "--batch", "1", "--batch-sleep", "30"]
    process = subprocess.Popen(orch_command() + argv, cwd=rlab.changed, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not trusting(rlab) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # inside the batch sleep now
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0, output
    first = trusting(rlab)
    assert len(first) == 1, output
    replies = statuses(rlab, rlab.changed)
    assert {host for host, (status, _) in replies.items() if status == "OK"} == first
    for host in set(APPS) - first:
        status, message = replies[host]
        assert status == "Aborted" and rlab.digest in message
    run_orch(["host", "trust", "appmgr", "-b", "-C", "web", "--batch", "1"], rlab.changed,
             check=True)
    assert trusting(rlab) == set(APPS)
    assert {status for status, _ in statuses(rlab, rlab.changed).values()} == {"OK"}
    assert {status for status, _ in statuses(rlab, rlab.workdir).values()} == {"OK"}  # old too
