import pytest

from orch.agents.aggregate import (
    average,
    boolean_summary,
    compute,
    maximum,
    minimum,
    summarize,
    summary,
    total,
)

DECLARATION = {
    "name": "appmgr",
    "actions": {
        "upgrade": {
            "outputs": {"revision": {"display_as": "Revision"}, "changed": {"display_as": "Changed"},
                        "load": {"display_as": "Load"}},
            "aggregate": [
                {"function": "summary", "args": ["revision"]},
                {"function": "boolean_summary", "args": ["changed", {"true": "yes", "false": "no"}]},
                {"function": "average", "args": ["load"], "format": "%.1f"},
                {"function": "max", "args": ["load"]},
            ],
        },
    },
}


def test_pure_functions():
    assert summary([20, 20, 19, "20", None]) == {"20": 3, "19": 1, "null": 1}
    assert list(summary(["b", "a", "b", "a", "c"])) == ["a", "b", "c"]  # ties by value
    assert total([1, 2.5, "x", True, None]) == 3.5
    assert total(["x"]) is None
    assert average([1, 2, 3, 4]) == 2.5 and average([]) is None
    assert minimum([3, 1, 2]) == 1 and maximum([3, 1, 2.5]) == 3
    assert boolean_summary([True, False, True, "x"]) == {"true": 2, "false": 1}
    assert boolean_summary([True], {"true": "Enabled", "false": "Disabled"}) == {
        "Enabled": 1, "Disabled": 0}


def test_summary_lines_read_like_the_seed():
    replies = [{"revision": 20}] * 4
    result = compute({"function": "summary", "args": ["revision"]},
                     {"revision": {"display_as": "Revision"}}, replies)
    assert result.title == "Summary of Revision"
    assert result.lines == [["Revision 20", "4 nodes"]]
    assert result.value == {"20": 4} and result.count == 4


def test_summarize_a_declaration():
    replies = [{"revision": 20, "changed": True, "load": 0.5},
               {"revision": 20, "changed": False, "load": 1.0},
               {"revision": 19, "changed": True}]
    results = summarize(DECLARATION, "upgrade", replies)
    assert [r.function for r in results] == ["summary", "boolean_summary", "average", "max"]
    assert results[0].lines == [["Revision 20", "2 nodes"], ["Revision 19", "1 node"]]
    assert results[1].lines == [["Changed yes", "2 nodes"], ["Changed no", "1 node"]]
    assert results[2].lines == [["Average", "0.8"]] and results[2].count == 2
    assert results[3].value == 1.0 and results[3].lines == [["Maximum", "1.00"]]
    assert summarize(DECLARATION, "status", replies) == []


def test_no_numeric_values_and_unknown_function():
    result = compute({"function": "sum", "args": ["load"]}, {}, [{"load": "high"}])
    assert result.value is None and result.lines == [["Sum", "no numeric replies"]]
    with pytest.raises(ValueError):
        compute({"function": "median", "args": ["load"]}, {}, [])
