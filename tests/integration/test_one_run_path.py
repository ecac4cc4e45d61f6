"""One run path: the same action as ``orch call``, a YAML step and a Python step gives the same
events and the same journal rows (ids, step names and times aside)."""

from __future__ import annotations

import json
import sqlite3

import pytest

pytestmark = pytest.mark.lab

YAML = """\
name: one step
nodes:
  apps: {identity: [dev1, dev2]}
steps:
  - call: appmgr.status
    nodes: apps
"""

PYTHON = """\
def run(orch):
    apps = orch.discover(identity=["dev1", "dev2"])
    orch.call("appmgr.status", apps)
"""

HOST_EVENTS = {"HostStarted", "HostReplied", "HostUnreachable", "HostSkipped"}


def shape(stdout: str):
    """The run's events without ids, times and step names: run-level events in order, host
    events as a sorted list (hosts answer in any order)."""
    events = [json.loads(line) for line in stdout.splitlines()]
    order, per_host = [], []
    for event in events:
        kind = event["type"]
        if kind in HOST_EVENTS:
            per_host.append((kind, event["host"], event.get("status"), event.get("attempt"),
                             event.get("final"), json.dumps(event.get("data"), sort_keys=True),
                             event.get("changed"), event.get("caller")))
        elif kind == "StepStarted":
            order.append((kind, event["module"], event["action"], sorted(event["hosts"]),
                          event["batch_size"], event["verbose"], event["display"]))
        elif kind == "StepDone":
            order.append((kind, event["discovered"], event["responses"], event["okcount"],
                          event["failcount"], event["unreachable"], event["changed"]))
        elif kind == "Discovered":
            order.append((kind, sorted(event["hosts"])))
        elif kind == "RunDone":
            order.append((kind, event["ok"], event["status"], event["failed"], event["recap"]))
        else:
            order.append((kind,))
    return order, sorted(per_host), events[0]["run_id"]


def journal_rows(lab, run_id: str):
    db = sqlite3.connect(lab.workdir / "journal.db")
    try:
        steps = db.execute("SELECT module, action, discovered, responses, okcount, failcount,"
                           " unreachable, failed FROM steps WHERE run_id=?", (run_id,)).fetchall()
        attempts = db.execute("SELECT host, attempt, status, message, data, final, caller FROM "
                              "attempts WHERE run_id=? ORDER BY host", (run_id,)).fetchall()
        status = db.execute("SELECT status, failed, unreachable FROM runs WHERE run_id=?",
                            (run_id,)).fetchone()
    finally:
        db.close()
    return steps, attempts, status


def test_call_yaml_step_and_python_step_share_one_run_path(lab):
    (lab.workdir / "one.yml").write_text(YAML)
    (lab.workdir / "one.py").write_text(PYTHON)
    runs = {
        "call": lab.orch("call", "appmgr.status", "-I", "dev1", "-I", "dev2", "--json", check=0),
        "yaml": lab.orch("play", "one.yml", "--json", check=0),
        "python": lab.orch("play", "one.py", "--json", check=0),
    }
    shapes = {name: shape(result.stdout) for name, result in runs.items()}
    call_order, call_hosts, call_id = shapes["call"]
    assert [entry[0] for entry in call_order] == [
        "RunStarted", "Discovered", "StepStarted", "StepDone", "RunDone"]
    assert {entry[1] for entry in call_hosts} == {"dev1", "dev2"}
    rows = {name: journal_rows(lab, run_id) for name, (_, _, run_id) in shapes.items()}
    for name in ("yaml", "python"):
        order, hosts, _ = shapes[name]
        assert order == call_order, name
        assert hosts == call_hosts, name
        assert rows[name] == rows["call"], name
    # the journal records the caller each host verified, not only the controller's user
    assert all(row[6] for row in rows["call"][1]), rows["call"][1]


def test_a_secret_echoed_by_a_module_is_masked_for_calls_too(lab):
    from test_call import TEST_MODULES

    result = lab.orch("call", "labtest.echo", "text=hunter2 and more", "secret=hunter2",
                      "-I", "dev2", "--json", env=TEST_MODULES, check=0)
    assert "hunter2" not in result.stdout
    run_id = json.loads(result.stdout.splitlines()[0])["run_id"]
    db = sqlite3.connect(lab.workdir / "journal.db")
    try:
        dumped = json.dumps(db.execute("SELECT * FROM attempts WHERE run_id=?", (run_id,)).fetchall())
        dumped += json.dumps(db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchall())
    finally:
        db.close()
    assert "hunter2" not in dumped and "********" in dumped


def test_a_changing_call_is_refused_while_a_run_holds_its_hosts(lab):
    import sqlite3 as db_api

    db = db_api.connect(lab.workdir / "journal.db")
    try:
        db.execute("INSERT OR REPLACE INTO locks VALUES ('dev3', 'OTHERRUN', 'host:1:999999', 9e12)")
        db.commit()
    finally:
        db.close()
    try:
        refused = lab.orch("call", "appmgr.upgrade", "revision=7", "-I", "dev3", check=1)
        assert "OTHERRUN" in refused.stdout + refused.stderr
        lab.orch("call", "appmgr.status", "-I", "dev3", check=0)  # read-only: no lock needed
    finally:
        db = db_api.connect(lab.workdir / "journal.db")
        db.execute("DELETE FROM locks WHERE run_id='OTHERRUN'")
        db.commit()
        db.close()
