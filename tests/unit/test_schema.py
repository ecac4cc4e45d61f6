"""One input schema: module declarations, YAML play inputs and Python plays agree."""

import io
import textwrap

import pytest

from orch import schema
from orch.agents import load_registry
from orch.cli import main
from orch.cli.env import Environment
from orch.config import load_config
from orch.errors import InputError

MODULE = '''
AGENT = {"name": "echoer", "description": "test", "version": "1", "timeout": 5,
         "actions": {"say": {"description": "say", "inputs": {
             "text": {"type": "string", "required": True, "validation": "shellsafe",
                      "description": "t", "prompt": "Text", "maxlength": 100}},
             "outputs": {}}}}


def say(request):
    return {}
'''

YAML_PLAY = """\
name: shellsafe
inputs:
  text: {type: string, validation: shellsafe}
  cluster: {type: string, validation: '^[a-z]+$', default: alfa}
  revision: {type: integer, validation: '^\\d+$', default: 1}
nodes:
  all: {identity: dev1}
steps:
  - announce: "{{ text }}"
"""

PY_PLAY = """\
def run(orch):
    text = orch.ask("Text", "text")
    orch.validate(text, "shellsafe", "text")
    address = orch.ask("Address", "address", default="::1")
    orch.validate(address, "ipv6address", "address")
"""


def cli(argv, tmp_path):
    (tmp_path / "mods").mkdir(exist_ok=True)
    (tmp_path / "mods" / "echoer.py").write_text(MODULE)
    (tmp_path / "orch.cfg").write_text(textwrap.dedent(f"""\
        [defaults]
        inventory = {tmp_path / 'inventory.yml'}
        module_paths = {tmp_path / 'mods'}
        fact_cache = sqlite:///{tmp_path / 'facts.db'}
        journal = sqlite:///{tmp_path / 'journal.db'}
        """))
    (tmp_path / "inventory.yml").write_text("all:\n  hosts:\n    dev1: {ansible_host: 127.0.0.1, ansible_port: 1}\n")
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, stdin=io.StringIO(""), environ={"USER": "rip"},
                      cwd=tmp_path, stdin_isatty=False, stdout_isatty=False)
    code = main([str(arg) for arg in argv], env=env)
    return code, out.getvalue(), err.getvalue()


def test_shellsafe_means_the_same_in_a_yaml_play(tmp_path):
    (tmp_path / "p.yml").write_text(YAML_PLAY)
    assert cli(["play", tmp_path / "p.yml", "-e", "text=abc", "--syntax-check"], tmp_path)[0] == 0
    code, out, err = cli(["play", tmp_path / "p.yml", "-e", "text=a;b", "--syntax-check"], tmp_path)
    assert code == 2 and "is not shellsafe" in err and err.count("\n") == 1


def test_shellsafe_means_the_same_in_a_python_play(tmp_path):
    (tmp_path / "p.py").write_text(PY_PLAY)
    code, out, err = cli(["play", tmp_path / "p.py", "text=a;b"], tmp_path)
    assert code == 2 and "is not shellsafe" in err and "p.py:3" in err
    code, out, err = cli(["play", tmp_path / "p.py", "text=abc", "address=10.0.0.1"], tmp_path)
    assert code == 2 and "is not an IPv6 address" in err and "p.py:5" in err


def test_shellsafe_means_the_same_for_a_module_input(tmp_path):
    cli(["agents"], tmp_path)
    registry = load_registry(load_config({}, {}, tmp_path))
    assert registry.get("echoer").prepare_args("say", {"text": "abc"}) == {"text": "abc"}
    code, out, err = cli(["call", "echoer.say", "text=a;b", "-I", "dev1"], tmp_path)
    assert code == 2 and "is not shellsafe" in err and out == ""


@pytest.mark.parametrize("given, reason", [
    ("cluster=alfa\n", "does not match"),  # $ is the end of the text, not before a newline
    ("revision=٢٠", "ASCII digits"),
    ("revision=1_000", "ASCII digits"),
    ("revision=", "ASCII digits"),
])
def test_play_inputs_are_strict(tmp_path, given, reason):
    (tmp_path / "p.yml").write_text(YAML_PLAY)
    code, out, err = cli(["play", tmp_path / "p.yml", "-e", "text=x", "-e", given,
                          "--syntax-check"], tmp_path)
    assert code == 2 and reason in err, err


@pytest.mark.parametrize("kind, text, expected", [
    ("integer", "20", 20), ("integer", "-3", -3), ("number", "2", 2), ("number", "2.5", 2.5),
    ("float", "1e3", 1000.0), ("boolean", "yes", True), ("list", "a,b", ["a", "b"]),
    ("list", '["a"]', ["a"]), ("hash", '{"a": 1}', {"a": 1}),
])
def test_coerce_types_text(kind, text, expected):
    assert schema.coerce(kind, text) == expected


@pytest.mark.parametrize("kind, text", [
    ("integer", "٢٠"), ("integer", "1_000"), ("integer", "0x10"), ("float", "nan"),
    ("float", "inf"), ("number", "1e999"), ("boolean", "maybe"), ("hash", "[1]"),
])
def test_coerce_refuses(kind, text):
    with pytest.raises(schema.SchemaError):
        schema.coerce(kind, text)


def test_strict_pattern_keeps_escapes_and_classes():
    from orch.runtime.core import strict_pattern

    assert strict_pattern("^[a-z]+$") == "^[a-z]+\\Z"
    assert strict_pattern("a\\$b") == "a\\$b"
    assert strict_pattern("[$]x") == "[$]x"
    assert strict_pattern("[]$]$") == "[]$]\\Z"
    assert strict_pattern("(a|b$)") == "(a|b\\Z)"


def test_enum_and_finite_numbers_checked_on_both_sides():
    field = schema.Input("mode", enum=("fast", "slow"))
    assert field.convert("fast") == "fast"
    with pytest.raises(InputError, match="not one of: fast, slow"):
        field.convert("medium")
    with pytest.raises(InputError, match="finite"):
        schema.Input("ratio", type="float").convert(float("nan"))
