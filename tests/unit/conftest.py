"""A small real inventory (YAML) and fact cache folder, and a way to run ``orch`` in it."""

import io
import json
import textwrap

import pytest

from orch.cli import main
from orch.cli.env import Environment

INVENTORY = """\
all:
  vars:
    agents: [rpcutil]
  children:
    web:
      vars:
        agents: [rpcutil, appmgr]
      hosts:
        dev1: {facts: {cluster: alfa, os: {family: debian, release: {major: 12}}}}
        dev2: {facts: {cluster: bravo, os: {family: debian, release: {major: 11}}}}
        dev3: {facts: {cluster: alfa, os: {family: windows, release: {major: 10}}}}
    haproxy:
      hosts:
        lb1: {classes: [loadbalancer]}
"""


class Fleet:
    def __init__(self, folder):
        self.folder = folder
        (folder / "inventories").mkdir()
        (folder / "inventories" / "fleet.yml").write_text(INVENTORY)
        (folder / "orch.cfg").write_text(textwrap.dedent("""\
            [defaults]
            inventory = inventories/fleet.yml
            fact_cache = sqlite:///state/facts.db
            """))

    def run(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={}, cwd=self.folder)
        code = main(list(argv), env=env)
        return code, out.getvalue(), err.getvalue()

    def import_facts(self, facts: dict) -> None:
        path = self.folder / "import.json"
        path.write_text(json.dumps(facts))
        code, _, err = self.run("facts", "--import", str(path))
        assert code == 0, err


@pytest.fixture
def fleet(tmp_path):
    return Fleet(tmp_path)
