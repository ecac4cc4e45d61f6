"""Fuzzing inventories: ranges, and INI/YAML/JSON bytes → load_inventory either loads or raises
an InputError (one line naming the file); never another exception, never a hang."""

from __future__ import annotations

import os
import tempfile

import pytest
from fuzz_settings import FAST, SLOW
from hypothesis import example, given
from hypothesis import strategies as st

from orch.errors import InputError
from orch.inventory import load_inventory
from orch.inventory.ranges import RangeError, expand_hostpattern

pytestmark = pytest.mark.fuzz

_RANGE_PARTS = st.sampled_from(["h", "web", "[", "]", ":", "1", "0", "01", "9", "a", "z", "Z",
                                "-", ".", "%", "99999999999999999999", "[1:3]", "[a:c]",
                                "[01:10:2]", "::1", "]:22", "[::1]", "x", "_"])


@FAST
@given(st.one_of(st.lists(_RANGE_PARTS, max_size=10).map("".join), st.text(max_size=30)))
@example("h[1:10000000]")
@example("h[1:1000][1:1001]")
@example("h[0:99999999999999999999]")
@example("h[1:10:0]")
@example("h[" + "9" * 5000 + ":" + "9" * 5001 + "]")
@example("[::1]:99999999999999999999")
def test_host_patterns(text):
    try:
        names, port = expand_hostpattern(text)
    except (RangeError, ValueError):
        return
    assert len(names) <= 1_000_000 and all(isinstance(name, str) for name in names)
    assert port is None or isinstance(port, int)


_INI = st.lists(st.one_of(
    st.sampled_from(["[web]", "[web:children]", "[web:vars]", "[all:vars]", "[x:y]", "[]",
                     "web", "h[1:10000000]", "h[1:3] a=1", "db ansible_port=22", "a=[1,",
                     "k={'a': (1,", "x=" + "[" * 500, "# c", "; c", "---", "all:", "h:22",
                     "[::1]:2", "h[01:9]", "\ufeff[web]", "a b", "z='q", "w=\\", "\x00"]),
    st.text(max_size=20)), max_size=12).map("\n".join)
_YAML = st.one_of(
    st.lists(st.sampled_from(["all:", "  hosts:", "    h1:", "    h[1:10000000]:", "  vars:",
                              "    a: 1", "  children:", "    web: {}", "    - x", "x: &a [*a]",
                              "a: 2020-13-45", "b: !!timestamp x", "c: !unsafe {", "d: !vault 1",
                              "e: !!python/name:os.system", "{", "[" * 200, "? [1]", ": 2",
                              "plugin: x", "  hosts: 5", "\t", "'", "{\"all\": {}}"]),
             max_size=10).map("\n".join),
    st.text(max_size=60))


def _load(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, name)
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            load_inventory(path)
        except InputError as error:
            assert path in str(error) and "\n" not in str(error).strip(), str(error)


@SLOW
@given(_INI, st.sampled_from(["hosts", "hosts.ini"]))
@example("[web]\nh[1:10000000]\n", "hosts.ini")
@example("a=" + "[" * 3000, "hosts")
def test_ini_inventories(text, name):
    _load(name, text.encode("utf-8", "surrogatepass"))


@SLOW
@given(_YAML, st.sampled_from(["hosts.yml", "hosts.json", "hosts"]))
@example("all:\n  hosts:\n    h[1:10000000]:\n", "hosts.yml")
@example("a: 2020-13-45\n", "hosts.yml")
@example("[" * 100000, "hosts.json")
@example("a: &a\n  b: *a\n", "hosts.yml")
def test_yaml_inventories(text, name):
    _load(name, text.encode("utf-8", "surrogatepass"))


@SLOW
@given(st.binary(max_size=200), st.sampled_from(["hosts", "hosts.yml", "hosts.ini"]))
@example(b"\xff\xfe[web]\n", "hosts")
def test_inventory_bytes(data, name):
    _load(name, data)
