"""MCollective's selection cases as data: one generated test per case in tests/data/select/."""

from pathlib import Path

import pytest
import yaml

from orch.errors import InputError
from orch.facts.records import HostRecord
from orch.select import Filter

DATA = Path(__file__).resolve().parents[2] / "data" / "select"


def _cases():
    for path in sorted(DATA.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        hosts = [HostRecord.make(h["name"], h.get("classes", ()), h.get("agents", ()), h.get("facts"))
                 for h in document["hosts"]]
        for case in document["cases"]:
            yield pytest.param(hosts, case, id=f"{path.stem}: {case['name']}")


def _filter(case) -> Filter:
    return Filter(classes=case.get("classes", ()), facts=case.get("facts", ()),
                  identities=case.get("identities", ()), agents=case.get("agents", ()),
                  compound=case.get("compound", ()), limit=case.get("limit"))


@pytest.mark.parametrize("hosts, case", list(_cases()))
def test_case(hosts, case):
    selection = _filter(case)
    if "error" in case:
        with pytest.raises(InputError) as raised:
            selection.compile().select_records(hosts)
        message = str(raised.value)
        assert case["error"] in message
        assert "\n" not in message
    else:
        found = [record.name for record in selection.compile().select_records(hosts)]
        assert found == case["expect"]
