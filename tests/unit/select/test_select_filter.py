"""Filter flags, --limit, Ruby-style regexes and the one-function-per-operator matchers."""

import argparse

import pytest

from orch.cli.selection_flags import add_selection_flags
from orch.errors import InputError
from orch.facts.records import MISSING, HostRecord, lookup
from orch.select import Filter
from orch.select.facts_match import parse_fact_expression
from orch.select.filter import apply_limit, parse_limit
from orch.select.pattern import NamePattern, compile_regex


def test_from_args_reads_the_shared_selection_flags():
    parser = argparse.ArgumentParser()
    add_selection_flags(parser)
    args = parser.parse_args(["-C", "web", "-F", "cluster=alfa", "-I", "dev1", "-I", "dev2",
                              "-A", "appmgr", "-S", "not db", "--limit", "50%"])
    selection = Filter.from_args(args)
    assert selection == Filter(("web",), ("cluster=alfa",), ("dev1", "dev2"), ("appmgr",),
                               ("not db",), "50%")
    assert selection.describe() == ("-C web -F cluster=alfa -I dev1 -I dev2 -A appmgr "
                                    "-S 'not db' --limit 50%")


def test_limit_is_repeatable_and_keeps_order():
    names = [f"dev{i}" for i in range(100)]
    first = apply_limit(names, parse_limit("10"))
    assert len(first) == 10
    assert first == apply_limit(list(names), parse_limit("10"))
    assert first == sorted(first, key=names.index)
    assert len(apply_limit(names, parse_limit("25%"))) == 25
    assert len(apply_limit(names[:3], parse_limit("10%"))) == 1  # rounds down, at least one
    assert apply_limit(names[:3], parse_limit("5")) == names[:3]


def test_limit_choice_is_stable_when_the_fleet_grows():
    names = [f"dev{i}" for i in range(1000)]
    before = set(apply_limit(names, parse_limit("10")))
    after = set(apply_limit(names + ["new1"], parse_limit("10")))
    assert len(before - after) <= 1


def test_limit_applies_after_matching():
    hosts = [HostRecord.make(f"h{i}", ["web" if i % 2 else "db"]) for i in range(40)]
    found = Filter(classes=("web",), limit="5").compile().select_records(hosts)
    assert len(found) == 5 and all("web" in host.classes for host in found)


@pytest.mark.parametrize("source, text, expected", [
    (r"^dev\d+$", "dev12", True),
    (r"\Adev\z", "dev", True),
    (r"\h+", "beef", True),
    (r"(?<num>\d+)", "a1", True),
    (r"[\h]+$", "xyz", False),
    ("^b", "a\nb", True),  # Ruby's ^ anchors at every line
])
def test_ruby_regex_dialect(source, text, expected):
    assert bool(compile_regex(source).search(text)) is expected


def test_regex_flags_and_patterns():
    assert NamePattern.parse("/WEB/i").matches("myweb")
    assert not NamePattern.parse("/WEB/").matches("myweb")
    assert NamePattern.parse("dev*", allow_glob=True).matches("dev12")
    assert not NamePattern.parse("dev*").matches("dev12")  # globs only for identities


def test_each_operator_function():
    facts = {"n": "10", "s": "bravo"}

    def check(text):
        test = parse_fact_expression(text)
        return test.matches(lookup(facts, test.key))

    assert check("n>9") and check("n>=10") and check("n<11") and check("n<=10")
    assert check("n==10") and check("n=10.0") and check("n!=11")
    assert check("s>alfa") and check("s<charlie") and check("s=~/rav/") and check("s!=/^a/")
    assert not check("n>10") and not check("s=~/^r/") and not check("missing!=1")


def test_missing_fact_matches_no_operator():
    for operator in ("=", "==", "!=", "<", "<=", ">", ">=", "=~"):
        assert not parse_fact_expression(f"k{operator}1").matches(MISSING)


def test_error_is_one_line_with_flag_and_column():
    with pytest.raises(InputError) as raised:
        Filter(compound=("cluster=alfa and )",)).compile()
    assert raised.value.where.path == "-S"
    assert raised.value.where.column == 18
    assert "\n" not in str(raised.value)
