"""A real redis-server (per module) for the Redis cache tests; a small fleet for CLI tests."""

import io
import json
import shutil
import socket
import subprocess
import textwrap
import time

import pytest

from orch.cli import main
from orch.cli.env import Environment


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/system-deps.sh installs it)")
    folder = tmp_path_factory.mktemp("redis")
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
         "--appendonly", "no", "--unixsocket", str(folder / "redis.sock")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


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
