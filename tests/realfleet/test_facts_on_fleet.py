"""Hosts orch never set up describe themselves: system facts gathered on the realistic fleet."""

from __future__ import annotations

import json

import pytest
from test_orch_on_fleet import ALL, orch, workdir

pytestmark = pytest.mark.realfleet


def test_gathered_system_facts_select_real_hosts(fleet, tmp_path):
    cwd = workdir(tmp_path)
    inventory = str(fleet.inventory)
    gathered = orch(fleet, cwd, "facts", "--gather", "-i", inventory)
    assert gathered.returncode == 0, gathered.stdout[-2000:] + gathered.stderr
    assert f"gathered the facts of {len(ALL)} host(s)" in gathered.stdout

    family = orch(fleet, cwd, "facts", "os.family", "-i", inventory, "--json")
    assert family.returncode == 0, family.stderr
    report = json.loads(family.stdout)
    assert [(row["value"], row["count"]) for row in report["values"]] == [("Debian", len(ALL))]
    assert report["found"] == len(ALL)

    major = open("/etc/debian_version").read().split(".")[0]
    for expression in (f"os.release.major={major}", "processors.count>=1", "kernel=Linux"):
        found = orch(fleet, cwd, "discover", "-i", inventory, "-F", expression, "--json")
        assert found.returncode == 0, (expression, found.stderr)
        assert sorted(json.loads(found.stdout)) == sorted(ALL), expression

    names = orch(fleet, cwd, "facts", "networking.hostname", "-i", inventory, "-v", "--json")
    assert names.returncode == 0, names.stderr
    for host in ALL:  # each host's own name (its UTS namespace), not this machine's
        one = orch(fleet, cwd, "discover", "-i", inventory, "-F", f"networking.hostname={host}")
        assert one.stdout.split() == [host], (host, one.stdout, one.stderr)
