"""The seed job end to end on the real lab: YAML and Python plays upgrade cluster bravo.

Everything is real: sshd, the remote runtime, HAProxy's runtime API, the app servers' HTTP
answers, check_load, the webhook and each host's audit log. The lab is shared with other
tests, so each test uses its own revision and compares audit logs before and after its run.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
SEED_YML = REPO / "plays" / "app_cluster_upgrade.yml"
SEED_PY = REPO / "plays" / "app_cluster_upgrade.py"
ROLLING = REPO / "plays" / "app_cluster_rolling.yml"
BRAVO = ("dev4", "dev5", "dev6")
APPS = ("dev1", "dev2", "dev3", "dev4", "dev5", "dev6")
HOSTS = ("lb1", "notify1") + APPS
FAST = ["-e", "try_sleep=0.5"]  # the plays' default is the seed's 10 s between tries


def audit_counts(lab) -> dict[str, int]:
    return {name: len(lab.audit_lines(name)) for name in HOSTS}


def new_audit(lab, before: dict[str, int], name: str) -> list[str]:
    # The decision lines (an allowed request's second line, with status=, is left out).
    return [line for line in lab.audit_lines(name)[before[name]:] if " status=" not in line]


def actions(lines: list[str]) -> list[str]:
    return [re.search(r"agent=(\S+) action=(\S+)", line).expand(r"\1.\2") for line in lines]


def without_retries(names: list[str]) -> list[str]:
    return [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]


def server_states(lab) -> dict[str, int]:
    """srv_admin_state per server of backend ``app`` from HAProxy's ``show servers state``."""
    text = lab.haproxy("show servers state app")
    header = next(line for line in text.splitlines() if line.startswith("#"))
    columns = header.lstrip("# ").split()
    states = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == len(columns) and not line.startswith("#"):
            row = dict(zip(columns, fields, strict=True))
            states[row["srv_name"]] = int(row["srv_admin_state"])
    return states


def served_revision(lab, name: str) -> str:
    status, headers, body = lab.http_get(lab.app_url(name))
    assert status == 200
    return body.strip()


def webhook_messages(lab) -> list[str]:
    try:
        lines = lab.webhook_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line).get("message", "") for line in lines if line.strip()]


def latest_run(lab) -> dict:
    result = lab.orch("runs", "--json", check=0)
    return json.loads(result.stdout)[0]


def check_seed_output(out: str, revision: int) -> None:
    """The seed's output shape (DESIGN §4), line by line, in order."""
    expected = [
        ">>>> Updating cluster bravo",
        "calling haproxy#disable for 1 node(s)",
        "done haproxy#disable [discovered=1 responses=1 failcount=0 okcount=1",
        "calling appmgr#upgrade for 3 node(s)",
        "processing result from dev",
        "done appmgr#upgrade [discovered=3 responses=3 failcount=0 okcount=3",
        "calling nrpe#runcommand for 3 node(s)",
        "done nrpe#runcommand [discovered=3 responses=3 failcount=0 okcount=3",
        "calling haproxy#enable for 1 node(s)",
        "calling appmgr#status for 3 node(s)",
        "Summary of Revision:",
        f"Revision {revision}: 3 nodes",
        f"updated 3 node cluster bravo to revision {revision}",
    ]
    position = 0
    for text in expected:
        found = out.find(text, position)
        assert found >= 0, f"missing {text!r} after offset {position} in:\n{out}"
        position = found
    for name in BRAVO:
        assert f"processing result from {name} [OK]" in out
    assert "done appmgr#upgrade" in out and re.search(r"totaltime=[\d.]+ batch=2\]", out)
    assert "\x1b[" not in out  # no terminal: plain lines, no control codes


def check_fleet_after_upgrade(lab, before: dict, revision: int) -> None:
    states = server_states(lab)
    assert set(APPS) <= set(states) and all(states[name] == 0 for name in APPS), states
    for name in BRAVO:
        assert served_revision(lab, name) == str(revision)
    assert webhook_messages(lab)[-1].endswith(f"updated 3 node cluster bravo to revision {revision}")
    lb = actions(new_audit(lab, before, "lb1"))
    assert lb == ["rpcutil.ping", "haproxy.disable", "haproxy.enable"]
    disable = new_audit(lab, before, "lb1")[1]
    assert re.match(r"reqid=[0-9a-f]{32}: reqtime=\d+ caller=\S+ agent=haproxy action=disable data=", disable)
    assert all(name in disable for name in BRAVO)
    for name in BRAVO:
        # a retried request (tries: 2 for the upgrade, 10 for the health check) audits again
        assert without_retries(actions(new_audit(lab, before, name))) == [
            "rpcutil.ping", "appmgr.upgrade", "nrpe.runcommand", "appmgr.status"]
        assert f'"revision":{revision}' in new_audit(lab, before, name)[1].replace(" ", "")
    assert actions(new_audit(lab, before, "notify1")) == ["angelianotify.sendmsg"]
    for name in ("dev1", "dev2", "dev3"):  # cluster alfa is left alone
        assert new_audit(lab, before, name) == []


def test_yaml_seed_play_upgrades_bravo(lab):
    before = audit_counts(lab)
    result = lab.orch("play", SEED_YML, "-e", "cluster=bravo", "-e", "backend=app",
                      "-e", "revision=31", *FAST, check=0)
    check_seed_output(result.stdout, 31)
    check_fleet_after_upgrade(lab, before, 31)
    run = latest_run(lab)
    assert (run["name"], run["status"], run["hosts_ok"], run["hosts_failed"]) == (
        "app_cluster_upgrade", "ok", 5, 0)
    assert run["inputs"]["revision"] == 31
    shown = lab.orch("runs", run["run_id"], check=0).stdout
    assert "steps[2] appmgr#upgrade [ok okcount=3" in shown and "dev4" in shown


def test_python_seed_play_upgrades_bravo(lab):
    before = audit_counts(lab)
    result = lab.orch("play", SEED_PY, "cluster=bravo", "backend=app", "revision=32",
                      "try_sleep=0.5", check=0)
    check_seed_output(result.stdout, 32)
    check_fleet_after_upgrade(lab, before, 32)
    assert latest_run(lab)["status"] == "ok"


@pytest.mark.parametrize("play", [SEED_YML, SEED_PY])
def test_empty_cluster_stops_with_when_empty(lab, play):
    before = audit_counts(lab)
    result = lab.orch("play", play, "-e", "cluster=charlie", "-e", "backend=app",
                      "-e", "revision=33", check=1)
    assert "No web servers found" in result.stdout + result.stderr
    for name in APPS + ("notify1",):
        assert new_audit(lab, before, name) == []
    assert "haproxy.disable" not in actions(new_audit(lab, before, "lb1"))


@pytest.mark.parametrize("play", [SEED_YML, SEED_PY])
def test_bad_revision_exits_2_before_any_host_is_contacted(lab, play):
    before = audit_counts(lab)
    runs_before = lab.orch("runs", "--json", check=0).stdout
    result = lab.orch("play", play, "-e", "cluster=bravo", "-e", "backend=app",
                      "-e", "revision=abc", check=2)
    assert result.stderr.count("\n") == 1 and "revision" in result.stderr
    assert "abc" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert audit_counts(lab) == before
    assert lab.orch("runs", "--json", check=0).stdout == runs_before


def test_a_cluster_another_run_is_changing_is_refused(lab):
    from orch.journal import open_journal

    journal = open_journal(f"sqlite:///{lab.workdir / 'journal.db'}")
    journal.lock("20261125T000000-beefed", ["dev5"])  # held by this (live) test process
    try:
        before = audit_counts(lab)
        result = lab.orch("play", SEED_YML, "-e", "cluster=bravo", "-e", "backend=app",
                          "-e", "revision=37", check=1)
        assert "hosts are being changed by another run: dev5 by run 20261125T000000-beefed" in (
            result.stdout)
        assert audit_counts(lab) == before  # nothing was sent, not even a ping
    finally:
        journal.unlock("20261125T000000-beefed")
        journal.close()


@contextmanager
def broken_upgrade(lab, name: str):
    """Make ``name``'s app fail to start (its configured command exits 3), then repair it."""
    path = lab.state_dir(name) / "host.json"
    original = path.read_text()
    config = json.loads(original)
    config["config"]["appmgr"]["command"] = ["/usr/bin/python3", "-c", "import sys; sys.exit(3)"]
    path.write_text(json.dumps(config))
    try:
        yield
    finally:
        path.write_text(original)


def test_failed_upgrade_runs_on_fail_then_resume_finishes(lab):
    before = audit_counts(lab)
    with broken_upgrade(lab, "dev5"):
        failed = lab.orch("play", SEED_YML, "-e", "cluster=bravo", "-e", "backend=app",
                          "-e", "revision=34", *FAST, check=1)
    out = failed.stdout
    assert out.count("processing result from dev5 [Aborted]") == 2  # tries: 2
    assert "step steps[2] failed: appmgr#upgrade failed on 1 of 3 host(s): dev5" in out
    assert out.index("step steps[2] failed") < out.rindex("calling haproxy#enable")
    assert "calling nrpe#runcommand" not in out
    assert actions(new_audit(lab, before, "dev5")).count("appmgr.upgrade") == 2  # tries: 2
    states = server_states(lab)
    assert all(states[name] == 0 for name in APPS), states  # on_fail put them back
    assert served_revision(lab, "dev4") == "34" and served_revision(lab, "dev6") == "34"
    assert served_revision(lab, "dev5") != "34"
    first = latest_run(lab)
    assert first["status"] == "failed" and list(first["failed"]) == ["dev5"]

    middle = audit_counts(lab)
    resumed = lab.orch("play", SEED_YML, "--resume", first["run_id"], *FAST, check=0)
    out = resumed.stdout
    assert f"skipping dev4: succeeded in run {first['run_id']}" in out
    assert f"skipping dev6: succeeded in run {first['run_id']}" in out
    assert "calling appmgr#upgrade for 1 node(s)" in out
    assert "Revision 34: 3 nodes" in out
    for name in ("dev4", "dev6"):
        assert "appmgr.upgrade" not in actions(new_audit(lab, middle, name))
    assert actions(new_audit(lab, middle, "dev5")).count("appmgr.upgrade") >= 1
    assert served_revision(lab, "dev5") == "34"
    assert all(state == 0 for state in server_states(lab).values())
    second = latest_run(lab)
    assert second["resumed_from"] == first["run_id"] and second["status"] == "ok"


class LoadGenerator:
    """Keep-alive GETs through HAProxy's frontend from a few threads, counting failures."""

    def __init__(self, lab, threads: int = 3):
        host, port = lab.hosts["lb1"], lab.settings["frontend_port"]
        self.address = (host, int(port))
        self.ok = 0
        self.failed = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        connection = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(*self.address, timeout=10)
                connection.request("GET", "/")
                response = connection.getresponse()
                response.read()
                good = response.status == 200
                problem = f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as error:
                good, problem = False, f"{type(error).__name__}: {error}"
                connection = None
            with self._lock:
                if good:
                    self.ok += 1
                else:
                    self.failed += 1
                    if len(self.errors) < 5:
                        self.errors.append(problem)

    def __enter__(self) -> LoadGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    @property
    def total(self) -> int:
        return self.ok + self.failed


@contextmanager
def only_bravo_serving(lab):
    """Take cluster alfa out of the backend so bravo's servers carry all the load."""
    for name in ("dev1", "dev2", "dev3"):
        lab.haproxy(f"set server app/{name} state maint")
    try:
        yield
    finally:
        for name in ("dev1", "dev2", "dev3"):
            lab.haproxy(f"set server app/{name} state ready")


def test_rolling_play_under_load_has_zero_failed_requests(lab, record_property):
    before = audit_counts(lab)
    with only_bravo_serving(lab), LoadGenerator(lab) as load:
        started = time.monotonic()
        result = lab.orch("play", ROLLING, "-e", "cluster=bravo", "-e", "backend=app",
                          "-e", "revision=35", *FAST, check=0)
        elapsed = time.monotonic() - started
    record_property("rolling_requests", load.total)
    record_property("rolling_failed", load.failed)
    print(f"\nrolling play: {load.total} requests in {elapsed:.1f}s, {load.failed} failed")
    assert load.failed == 0, load.errors
    assert load.total >= 2000, f"only {load.total} requests during the run"
    assert "Revision 35: 3 nodes" in result.stdout
    assert result.stdout.count("calling haproxy#disable for 1 node(s)") == 2  # batches of 2
    for name in BRAVO:
        assert served_revision(lab, name) == "35"
    assert all(state == 0 for state in server_states(lab).values())
    disables = [line for line in new_audit(lab, before, "lb1") if "action=disable" in line]
    assert len(disables) == 2 and "dev4" in disables[0] and "dev6" in disables[1]


def test_seed_play_under_the_same_load_fails_requests(lab, record_property):
    """The seed takes every server of the cluster out at once: with only that cluster in the
    backend, requests fail while it upgrades. This is why the rolling play exists."""
    with only_bravo_serving(lab), LoadGenerator(lab) as load:
        started = time.monotonic()
        lab.orch("play", SEED_YML, "-e", "cluster=bravo", "-e", "backend=app",
                 "-e", "revision=36", *FAST, check=0)
        elapsed = time.monotonic() - started
    record_property("seed_requests", load.total)
    record_property("seed_failed", load.failed)
    print(f"\nseed play: {load.total} requests in {elapsed:.1f}s, {load.failed} failed "
          f"({', '.join(sorted(set(load.errors)))})")
    assert load.failed > 0
