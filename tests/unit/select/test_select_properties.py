"""Random and malformed expressions and fact values: never a traceback, InputError or a result."""

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orch.cli import main
from orch.cli.env import Environment
from orch.errors import InputError
from orch.facts.records import HostRecord
from orch.select import Filter

ALPHABET = st.sampled_from(list("abcxyz019 .=<>!~/()'\"*?[]^$\\-_:and or not"))
WORDS = st.sampled_from(["and", "or", "not", "!", "(", ")", "web", "db", "cluster=alfa",
                         "os.release.major>=12", "k=~/a+/i", "/^w/", "x!=1", "=", "'", "/"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)
HOSTS = [
    HostRecord.make("web1", ["web"], ["appmgr"], {"cluster": "alfa", "os": {"release": {"major": 12}}}),
    HostRecord.make("db1", ["db"], [], {"cluster": "bravo", "k": ["aa", 3]}),
    HostRecord.make("x", [], [], {}),
]


def _outcome(selection: Filter):
    try:
        return [h.name for h in selection.compile().select_records(HOSTS)]
    except InputError as error:
        assert "\n" not in str(error)
        return None


@given(st.text(ALPHABET, max_size=30))
@settings(max_examples=300, deadline=None)
def test_random_text_in_every_flag(text):
    for selection in (Filter(compound=(text,)), Filter(facts=(text,)), Filter(classes=(text,)),
                      Filter(identities=(text,)), Filter(agents=(text,)), Filter(limit=text)):
        _outcome(selection)


@given(st.lists(WORDS, min_size=1, max_size=8).map(" ".join))
@settings(max_examples=300, deadline=None)
def test_token_soup(expression):
    found = _outcome(Filter(compound=(expression,)))
    assert found is None or set(found) <= {"web1", "db1", "x"}


@given(JSON, st.sampled_from(["=", "==", "!=", "<", "<=", ">", ">=", "=~"]),
       st.sampled_from(["1", "1.5", "-2", "abc", "/a/i", "true", "1e400", "[", "12"]))
@settings(max_examples=300, deadline=None)
def test_any_fact_value_with_any_operator(value, operator, operand):
    hosts = [HostRecord.make("h", facts={"f": value, "n": {"f": value}})]
    for key in ("f", "n.f", "n"):
        _outcome_on(hosts, Filter(facts=(f"{key}{operator}{operand}",)))


def _outcome_on(hosts, selection):
    try:
        selection.compile().select_records(hosts)
    except InputError as error:
        assert "\n" not in str(error)


@given(st.text(ALPHABET, min_size=1, max_size=20))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_cli_exit_codes_for_random_expressions(tmp_path, text):
    inventory = tmp_path / "inv.yml"
    if not inventory.exists():
        inventory.write_text("all:\n  hosts:\n    web1: {facts: {cluster: alfa}}\n")
    out, err = io.StringIO(), io.StringIO()
    environ = {"ORCH_INVENTORY": str(inventory), "ORCH_FACT_CACHE": f"sqlite:///{tmp_path}/f.db"}
    code = main(["discover", "-S", text], env=Environment(stdout=out, stderr=err, environ=environ,
                                                         cwd=tmp_path, stdin=io.StringIO()))
    assert code in (0, 1, 2)
    if code:
        assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    else:
        assert out.getvalue() == "web1\n"
