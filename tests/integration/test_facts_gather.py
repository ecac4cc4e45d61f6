"""``orch facts --gather`` fills the fact cache from live hosts; --max-age then trusts it."""

import pytest

pytestmark = pytest.mark.lab


def test_gather_then_max_age(lab):
    result = lab.orch("facts", "--gather", "-v", check=0)
    assert "calling rpcutil#inventory for 8 node(s)" in result.stdout
    assert "gathered the facts of 8 host(s)" in result.stdout
    fresh = lab.orch("discover", "-F", "cluster=bravo", "--max-age", "1h", check=0)
    assert fresh.stdout.split() == ["dev4", "dev5", "dev6"]
    report = lab.orch("facts", "os.family", check=0)
    assert "Debian" in report.stdout and "found 8 times" in report.stdout


def test_max_age_refuses_never_gathered_hosts(lab, tmp_path):
    env = {"ORCH_FACT_CACHE": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = lab.orch("discover", "-C", "web", "--max-age", "1h", env=env)
    assert result.code == 1 and "dev1" in result.stderr
