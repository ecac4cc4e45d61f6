"""Fuzzing the offline commands in-process: ``discover``, ``inventory`` and ``facts`` (no
--gather, no --import: nothing touches the network or reads outside the test folder) with
random flags and values. The exit code is 0, 1 or 2; stderr never holds a traceback."""

from __future__ import annotations

import io
import os
import tempfile
import textwrap
from pathlib import Path

import pytest
from fuzz_settings import SLOW
from hypothesis import example, given
from hypothesis import strategies as st

from orch.cli import main
from orch.cli.env import Environment

pytestmark = pytest.mark.fuzz

INVENTORY = """\
all:
  vars: {agents: [rpcutil]}
  children:
    web:
      vars: {agents: [rpcutil, appmgr]}
      hosts:
        dev1: {facts: {cluster: alfa, os: {release: {major: 12}}}}
        dev2: {facts: {cluster: bravo, n: [1, 2]}}
    db:
      hosts:
        db[1:3]:
"""
FOLDER = Path(tempfile.mkdtemp(prefix="orch-fuzz-cli-"))
(FOLDER / "inventories").mkdir()
(FOLDER / "inventories" / "fleet.yml").write_text(INVENTORY)
(FOLDER / "inventories" / "bad.ini").write_text("[web]\nh[1:10000000]\n")
(FOLDER / "inventories" / "deep.yml").write_text("all: " + "[" * 5000 + "\n")
os.mkfifo(FOLDER / "inventories" / "fifo")
(FOLDER / "orch.cfg").write_text(textwrap.dedent("""\
    [defaults]
    inventory = inventories/fleet.yml
    fact_cache = sqlite:///state/facts.db
    """))

_VALUES = st.one_of(
    st.sampled_from(["web", "db", "dev1", "cluster=alfa", "n>=1", "/^dev/", "/[/", "dev*",
                     "not web", "(" * 2000 + "web" + ")" * 2000, "not " * 5000 + "web",
                     "k=~/" + "a" * 20000 + "/", "50%", "0", "-1", "101%", "1h", "x", "",
                     "inventories/fleet.yml", "inventories/bad.ini", "inventories/deep.yml",
                     "inventories/fifo", "/proc/self/fd", "/dev/null", "missing.yml",
                     "inventories", "os.release.major", "all", "\x00", "-", "--", "é"]),
    st.text(max_size=20))
_FLAGS = {
    "discover": ["-C", "-F", "-I", "-A", "-S", "--limit", "-i", "--max-age", "--json"],
    "inventory": ["--list", "--graph", "--host", "--vars", "-i"],
    "facts": ["-C", "-F", "-I", "-A", "-S", "--limit", "-i", "-v", "--json", "--max-age"],
}
_SWITCHES = {"--json", "--list", "--vars", "-v"}


@st.composite
def _argv(draw):
    command = draw(st.sampled_from(sorted(_FLAGS)))
    argv = [command]
    for _ in range(draw(st.integers(0, 5))):
        flag = draw(st.sampled_from(_FLAGS[command] + ["VALUE"]))
        if flag == "VALUE":
            argv.append(draw(_VALUES))
        elif flag in _SWITCHES:
            argv.append(flag)
        else:
            argv.extend([flag, draw(_VALUES)])
    # argparse takes unambiguous prefixes: --g(ather) and --im(port) would leave the sandbox
    assert_safe = [word for word in argv if word.startswith("--") and
                   word.split("=")[0] not in sum(_FLAGS.values(), []) and word != "--"]
    return [word for word in argv if word not in assert_safe]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={}, cwd=FOLDER)
    code = main(argv, env=env)
    return code, out.getvalue(), err.getvalue()


@SLOW
@given(_argv())
@example(["discover", "-S", "(" * 2000 + "web" + ")" * 2000])
@example(["discover", "-S", "not " * 5000 + "web"])
@example(["inventory", "--list", "-i", "/proc/self/fd"])
@example(["inventory", "--list", "-i", "inventories/fifo"])
@example(["inventory", "--list", "-i", "inventories/bad.ini"])
@example(["discover", "-i", "inventories/deep.yml"])
@example(["facts", "cluster", "-F", "k=~/" + "a" * 20000 + "/"])
@example(["discover", "--limit", "9" * 5000])
@example(["discover", "--max-age", "9" * 400 + "d"])
@example(["discover", "-i", "\x00"])
@example(["inventory", "--list", "-i", "x\x00"])
@example(["facts", "os.release.major", "-S", "os.release.major>=12", "--json"])
def test_offline_commands(argv):
    code, _, err = _run(argv)
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        # one error line, after argparse's usage line(s) for a usage error
        lines = err.rstrip("\n").split("\n")
        assert lines and lines[-1].startswith("orch: error: "), (argv, err)
        assert err.count("orch: error: ") == 1, (argv, err)
        assert len(lines) == 1 or lines[0].startswith("usage: orch"), (argv, err)
