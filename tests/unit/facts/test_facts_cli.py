"""``orch facts``: the mco-style distribution report, --import, --json, -v, selection flags."""

import json

REPORT = """\
Report for fact: cluster

        alfa                                    found 2 times
        bravo                                   found 1 times

3 of 4 selected host(s) have fact 'cluster'
"""


def test_distribution_report_like_mco_facts(fleet):
    assert fleet.run("facts", "cluster") == (0, REPORT, "")


def test_verbose_names_the_hosts_and_numbers_sort_numerically(fleet):
    fleet.import_facts({"lb1": {"os": {"release": {"major": 9}}}})
    code, out, _ = fleet.run("facts", "os.release.major", "-v")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Report for fact: os.release.major"
    values = [line.split()[0] for line in lines if "found" in line]
    assert values == ["9", "10", "11", "12"]
    assert "        12                                      found 1 times" in lines
    assert lines[lines.index("        12                                      found 1 times") + 2] == "            dev1"


def test_selection_flags_narrow_and_json(fleet):
    code, out, _ = fleet.run("facts", "cluster", "-C", "web", "-F", "os.family=debian", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["selected"] == 2 and report["found"] == 2
    assert [(v["value"], v["count"], v["hosts"]) for v in report["values"]] == \
        [("alfa", 1, ["dev1"]), ("bravo", 1, ["dev2"])]


def test_import_then_report_cached_over_inventory(fleet):
    fleet.import_facts({"dev2": {"cluster": "alfa"}, "lb1": {"cluster": "charlie"}})
    code, out, _ = fleet.run("facts", "cluster")
    assert code == 0
    assert "alfa                                    found 3 times" in out
    assert "charlie                                 found 1 times" in out
    assert "bravo" not in out


def test_no_host_has_the_fact_is_exit_1(fleet):
    code, out, err = fleet.run("facts", "nosuch")
    assert code == 1 and out.startswith("Report for fact: nosuch")
    assert err == "orch: error: none of the 4 selected host(s) has fact 'nosuch'\n"


def test_bad_input_is_exit_2_one_line(fleet):
    (fleet.folder / "bad.json").write_text('{"dev1": {"a": 1},\n "dev2": [1, 2]}')
    (fleet.folder / "broken.json").write_text('{"dev1": \n {"a": }')
    for argv, expected in (
        (["facts"], "name a fact"),
        (["facts", "--import", "missing.json"], "missing.json: cannot read"),
        (["facts", "--import", "bad.json"], "bad.json: dev2: facts of host 'dev2' must be an object"),
        (["facts", "--import", "broken.json"], "broken.json:2: column 8: not valid JSON"),
        (["facts", "cluster", "-F", "cluster"], "-F: expected FACT OPERATOR VALUE"),
    ):
        code, out, err = fleet.run(*argv)
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and expected in err, err
