"""Hostile selection flags: nesting, length and regex limits are InputErrors (exit 2), never a
RecursionError or a traceback."""

import pytest

from orch.errors import InputError
from orch.select import Filter
from orch.select.compound import MAX_DEPTH, MAX_LENGTH, parse_compound
from orch.select.pattern import MAX_REGEX_LENGTH


@pytest.mark.parametrize("text", [
    "(" * 2000 + "web" + ")" * 2000,
    "not " * 5000 + "web",
    "!" * 5000 + "web",
    "(not " * 1000 + "web" + ")" * 1000,
])
def test_deep_nesting_is_refused_naming_the_flag_and_the_limit(text):
    with pytest.raises(InputError) as error:
        parse_compound(text)
    message = str(error.value)
    assert "-S" in message and f"nested more than {MAX_DEPTH} deep" in message
    assert len(message) < 300  # one readable line, not the whole expression


def test_nesting_up_to_the_limit_still_parses():
    parse_compound("(" * (MAX_DEPTH - 1) + "not web" + ")" * (MAX_DEPTH - 1))


def test_overlong_expression_is_refused():
    with pytest.raises(InputError, match=f"more than the {MAX_LENGTH} allowed"):
        parse_compound(" or ".join(["web"] * (MAX_LENGTH // 4 + 10)))


@pytest.mark.parametrize("flags", [
    {"facts": ("k=~/" + "a" * (MAX_REGEX_LENGTH + 1) + "/",)},
    {"identities": ("/" + "a" * (MAX_REGEX_LENGTH + 1) + "/",)},
    {"classes": ("/" + "(" * 5000 + "/",)},
    {"facts": ("k=/(?P<x>/",)},
    {"facts": ("k=" + "x" * (70 * 1024),)},
    {"compound": ("kernel=~/" + "(" * 3000 + "a" + ")" * 3000 + "/",)},
])
def test_bad_or_huge_regexes_are_input_errors(flags):
    with pytest.raises(InputError):
        Filter(**flags).compile()


def test_cli_exit_2_one_line_for_hostile_selections(fleet):
    for argv in (["-S", "(" * 2000 + "web" + ")" * 2000], ["-S", "not " * 5000 + "web"],
                 ["-F", "k=~/" + "a" * 20000 + "/"], ["-I", "/[/"]):
        code, out, err = fleet.run("discover", *argv)
        assert code == 2, (argv[0], err)
        assert err.count("\n") == 1 and "Traceback" not in err and out == ""
