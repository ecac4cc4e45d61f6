"""Host state on the lab (issue 14 items 3-6), through orch itself: ``rpcutil.inventory`` names
the state folder and audit log it used, classes a host reports reach ``-C``/``-S`` after a
gather, ``--facter``/``fact_source = facter`` ask for Facter, the lab's host.json no longer
fakes ``os`` facts, and ``orch host init`` refuses a login that is not root."""

from __future__ import annotations

import json
import os
import shutil

import pytest

pytestmark = pytest.mark.lab


def _replies(stdout: str) -> dict:
    events = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {event["host"]: event for event in events if event["type"] == "HostReplied"}


def test_inventory_reports_state_folder_and_audit_log(lab):
    result = lab.orch("call", "rpcutil.inventory", "-I", "dev1", "--json", check=0)
    data = _replies(result.stdout)["dev1"]["data"]
    state = os.path.join(str(lab.dir), "addr", lab.hosts["dev1"])
    assert data["state_dir"] == state
    assert data["audit_log"] == os.path.join(state, "audit.log")
    assert os.path.realpath(state) == str(lab.state_dir("dev1"))


def test_lab_host_json_has_no_fake_os_facts_so_real_ones_show(lab):
    host_json = json.loads((lab.state_dir("dev1") / "host.json").read_text())
    assert "os" not in host_json["facts"] and "kernel" not in host_json["facts"]
    result = lab.orch("call", "rpcutil.inventory", "-I", "dev1", "--json", check=0)
    facts = _replies(result.stdout)["dev1"]["data"]["facts"]
    with open("/etc/os-release") as handle:
        release = dict(line.rstrip("\n").split("=", 1) for line in handle if "=" in line)
    major = release["VERSION_ID"].strip('"').split(".")[0]
    assert str(facts["os"]["release"]["major"]) == major
    assert facts["kernel"] == os.uname().sysname


def test_gathered_classes_reach_class_filters(lab):
    classes = lab.state_dir("dev2") / "classes"
    classes.write_text("# set by the test\ndb_primary\nnginx::server\n")
    try:
        lab.orch("facts", "--gather", "-I", "dev2", check=0)
        assert lab.orch("discover", "-C", "db_primary", check=0).stdout.split() == ["dev2"]
        assert lab.orch("discover", "-C", "/^nginx::/", "-C", "web", check=0).stdout.split() == ["dev2"]
        found = lab.orch("discover", "-S", "db_primary and cluster=alfa", check=0).stdout.split()
        assert found == ["dev2"]
    finally:
        classes.unlink()
    lab.orch("facts", "--gather", "-I", "dev2", check=0)
    assert lab.orch("discover", "-C", "db_primary").code == 1


def test_facter_flag_and_fact_source_setting_ask_for_facter(lab):
    lab.orch("facts", "--gather", "--facter", "-I", "dev1", check=0, timeout=180)
    assert 'action=inventory data={"facter":true} result=allowed' in lab.audit_lines("dev1")[-1]
    if shutil.which("facter"):  # the lab's hosts are this machine: Facter's own facts arrive
        assert lab.orch("facts", "facterversion", "-I", "dev1").code == 0
    lab.orch("facts", "--gather", "-I", "dev1", check=0, env={"ORCH_FACT_SOURCE": "facter"},
             timeout=180)
    assert 'action=inventory data={"facter":true} result=allowed' in lab.audit_lines("dev1")[-1]
    lab.orch("facts", "--gather", "-I", "dev1", check=0)
    assert 'action=inventory data={"facter":false} result=allowed' in lab.audit_lines("dev1")[-1]


def test_host_init_refuses_a_login_that_is_not_root(lab):
    if lab.user == "root":
        pytest.skip("the lab logs in as root here")
    before = len(lab.audit_lines("dev1"))
    result = lab.orch("host", "init", "-I", "dev1", "-v")
    # needs_root: refused on the controller, before anything is sent (no audit line)
    assert result.code == 2 and result.stdout == ""
    assert "orchhost.init needs root" in result.stderr and "-b/--become" in result.stderr
    assert len(lab.audit_lines("dev1")) == before
