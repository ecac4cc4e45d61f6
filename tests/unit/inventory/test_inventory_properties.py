"""Random and malformed inventories: orch either loads them or refuses with an InputError that
names the file (and prints one line at exit 2); never any other exception."""

from __future__ import annotations

import io
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch.cli import main
from orch.cli.env import Environment
from orch.errors import InputError
from orch.inventory import load_inventory

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_words = st.text(alphabet="abcxyz019-_.:[]=\"'#;{} \t", min_size=0, max_size=12)
_ini_lines = st.one_of(
    st.builds(lambda g, t: f"[{g}{t}]", _words, st.sampled_from(["", ":vars", ":children", ":x"])),
    st.builds(lambda h, k, v: f"{h} {k}={v}", _words, _words, _words),
    st.builds(lambda k, v: f"{k}={v}", _words, _words),
    _words,
    st.sampled_from(["[web]", "[web:children]", "web[01:10]", "h[a:f]", "h[1:]", "h[3:1]",
                     "x ansible_port=22", "[all:vars]", "# comment", "; c", "---", "all:",
                     "h:22", "[::1]:2", "h[1:2:0]", "h[01:9]", "h[a:5]", "\ufeff[web]"]),
)
ini_texts = st.lists(_ini_lines, max_size=12).map("\n".join)

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                     st.text(max_size=6), st.sampled_from(["h[1:3]", "h[1:]", "g:22", "all"]))
_yaml_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(["hosts", "children", "vars", "all", "web",
                                                   "h1", "ansible_group_priority", "plugin"]),
                                  st.text(max_size=5), st.integers(0, 3)),
                        inner, max_size=4),
    ),
    max_leaves=20,
)


def _yaml_text(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True)


yaml_texts = st.one_of(
    _yaml_values.map(_yaml_text),
    st.text(alphabet="ab:- \n[]{}#!&*|>'\"", max_size=60),
)


def _load(text: str, name: str) -> None:
    folder = tempfile.mkdtemp(prefix="orch-inv-")
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.write(text)
    try:
        inventory = load_inventory([path])
        inventory.to_list_json()
        inventory.to_graph(show_vars=True)
        for host in list(inventory.hosts.values())[:20]:
            host.classes, host.agents, host.facts, host.address  # noqa: B018
            inventory.host_json(host.name)
    except InputError as error:
        assert error.where is not None and error.where.file == path
        assert "\n" not in str(error)
    finally:
        for entry in os.listdir(folder):
            os.unlink(os.path.join(folder, entry))
        os.rmdir(folder)


@SETTINGS
@given(ini_texts)
def test_random_ini_loads_or_is_input_error(text: str):
    _load(text, "hosts.ini")


@SETTINGS
@given(ini_texts)
def test_random_ini_without_extension_loads_or_is_input_error(text: str):
    _load(text, "hosts")


@SETTINGS
@given(yaml_texts)
def test_random_yaml_loads_or_is_input_error(text: str):
    _load(text, "hosts.yml")


@settings(max_examples=40, deadline=None)
@given(st.one_of(ini_texts, yaml_texts), st.sampled_from(["inv.yml", "inv.ini", "inv"]))
def test_cli_never_prints_a_traceback(text: str, name: str):
    folder = tempfile.mkdtemp(prefix="orch-inv-")
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    try:
        out, err = io.StringIO(), io.StringIO()
        code = main(["inventory", "--list", "-i", path],
                    env=Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={}))
        assert code in (0, 2)
        if code == 2:
            assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    finally:
        os.unlink(path)
        os.rmdir(folder)
