"""Fuzzing -S, -F, -I/-C/-A: any text parses or is an InputError; parsed trees evaluate."""

from __future__ import annotations

import pytest
from fuzz_settings import FAST
from hypothesis import example, given
from hypothesis import strategies as st

from orch.errors import InputError
from orch.facts.records import HostRecord
from orch.select import Filter
from orch.select.compound import parse_compound
from orch.select.facts_match import parse_fact_expression
from orch.select.pattern import NamePattern

pytestmark = pytest.mark.fuzz

_PIECES = st.sampled_from(["(", ")", " and ", " or ", "not ", "!", "web", "db", "/^w/i", "/",
                           "cluster=alfa", "k=~/a+/", "n>=12", "x!=y", "'q", "\"v w\"", "=",
                           "f(1)", " ", "\\", "/(/", "a==/x/", "k=/re/m", "<", "~", "=>"])
_EXPRESSIONS = st.one_of(st.lists(_PIECES, max_size=30).map("".join), st.text(max_size=60))
RECORDS = [HostRecord("web1", frozenset({"web"}), frozenset({"appmgr"}),
                      {"cluster": "alfa", "n": 12, "k": ["aa", "b"], "x": {"y": 1}}),
           HostRecord("db1", frozenset({"db"}), frozenset(), {"cluster": "bravo", "n": "7"})]


def _parses_or_refuses(parse, text):
    try:
        return parse(text)
    except InputError as error:
        assert "\n" not in str(error).strip(), str(error)
        return None


@FAST
@given(_EXPRESSIONS)
@example("(" * 2000 + "web" + ")" * 2000)
@example("not " * 5000 + "web")
@example("!" * 5000 + "web")
@example("kernel=~/" + "(" * 3000 + "/")
@example("web or " * 20000 + "web")
def test_compound(text):
    if _parses_or_refuses(parse_compound, text) is not None:
        Filter(compound=(text,)).compile().select_records(RECORDS)


@FAST
@given(st.one_of(st.lists(_PIECES, max_size=8).map("".join), st.text(max_size=40)))
@example("k=~/" + "a" * 70000 + "/")
@example("k=/(?<n>x)\\h\\z/i")
@example("n>=1e999999")
@example("n<" + "9" * 5000)
def test_fact_expression(text):
    if _parses_or_refuses(parse_fact_expression, text) is not None:
        Filter(facts=(text,)).compile().select_records(RECORDS)


@FAST
@given(st.one_of(st.lists(_PIECES, max_size=6).map("".join), st.text(max_size=40)))
@example("/" + "(" * 5000 + "/")
@example("/[/")
@example("dev[")
@example("/a{99999}{99999}/")
def test_name_patterns(text):
    for flag, glob in (("-I", True), ("-C", False)):
        pattern = _parses_or_refuses(lambda t, g=glob: NamePattern.parse(t, allow_glob=g), text)
        if pattern is not None:
            pattern.matches("web1")
            fields = {"-I": "identities", "-C": "classes"}
            Filter(**{fields[flag]: (text,)}).compile().select_records(RECORDS)
