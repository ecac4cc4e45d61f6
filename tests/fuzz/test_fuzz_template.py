"""Fuzzing play templates: checking and rendering any text gives a value or an InputError."""

from __future__ import annotations

import pytest
from fuzz_settings import FAST
from hypothesis import example, given
from hypothesis import strategies as st

from orch.errors import InputError, Where
from orch.play import template

pytestmark = pytest.mark.fuzz

W = Where("p.yml", 3, "steps[0].args.x")
CONTEXT = {"x": 3, "s": "ab", "nodes": {"apps": ["dev1", "dev2"]}, "inputs": {"n": 0}}
_PIECES = st.sampled_from(["{{", "}}", "{%", "%}", " x ", " s ", "|", "upper", "length",
                           "nosuchfilter", " is ", "defined", "nosuchtest", "(", ")", "1", "0",
                           "/", "//", "**", "*", "+", "-", "not ", "if ", "endif", "for a in ",
                           "endfor", "nodes.apps", "'", "\"", "[", "]", ".", "__class__", ",",
                           "range(10**9)", "10.0", "1e308", "~", "%", "raw", "endraw", "#}",
                           "{#", "include 'x'", "set y = 1", "int", "join", "inputs.n"])
_TEXT = st.one_of(st.lists(_PIECES, max_size=16).map("".join), st.text(max_size=40))


@FAST
@given(_TEXT)
@example("{{ x | nosuchfilter }}")
@example("{% if x is nosuchtest %}a{% endif %}")
@example("{{ 1/0 }}")
@example("a {{ 1/0 }} b")
@example("{{ 10.0 ** 1000 }}")
@example("{{ 'a' * 10**12 }}")
@example("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}")
@example("{{ x" + "|upper" * 3000 + " }}")
@example("{{ x.__class__.__mro__ }}")
def test_templates(text):
    try:
        template.check(text, set(CONTEXT), W)
    except InputError as error:
        assert str(error).startswith(str(W))
    try:
        template.render(text, CONTEXT, W)
    except InputError as error:
        assert str(error).startswith(str(W))


@FAST
@given(_TEXT)
@example("load / 0")
@example("x is nosuchtest")
@example("not " * 3000 + "x")
def test_conditions(text):
    try:
        template.check_expression(text, set(CONTEXT), W)
    except InputError:
        pass
    try:
        template.evaluate(text, CONTEXT, W)
    except InputError as error:
        assert str(error).startswith(str(W))
