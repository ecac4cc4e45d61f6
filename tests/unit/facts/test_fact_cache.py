"""Both fact caches behind the same Protocol: SQLite (default) and a real Redis server."""

import itertools
import time

import pytest

from orch.config import Config
from orch.errors import InputError
from orch.facts import open_cache, store_gathered
from orch.facts.records import deep_merge, flatten, lookup, value_text

_counter = itertools.count()


@pytest.fixture(params=["sqlite", "redis"])
def cache(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/deep/er/facts.db"
    else:
        base = request.getfixturevalue("redis_url")
        url = base[:-1] + str(next(_counter) % 16)  # a fresh database number per test
    opened = open_cache(url)
    if request.param == "redis":
        opened._client.flushdb()
    yield opened
    opened.close()


FACTS = {
    "dev1": {"cluster": "alfa", "os": {"family": "debian", "release": {"major": 12, "full": "12.4"}},
             "tags": ["web", "db"], "virtual": True, "load": 0.5, "nothing": None, "empty": {}},
    "dev2": {"cluster": "bravo", "os": {"family": "redhat", "release": {"major": "9"}}},
}


def test_round_trip_and_gathered_time(cache):
    assert cache.put_many(FACTS, gathered_at=1000.0) == 2
    found = cache.get_many(["dev1", "dev2", "nosuch"])
    assert found == {"dev1": (FACTS["dev1"], 1000.0), "dev2": (FACTS["dev2"], 1000.0)}
    assert cache.all() == found
    assert cache.gathered() == {"dev1": 1000.0, "dev2": 1000.0}


def test_values_of_one_key_leaf_and_subtree(cache):
    cache.put_many(FACTS)
    assert cache.values("cluster") == {"dev1": "alfa", "dev2": "bravo"}
    assert cache.values("os.release.major") == {"dev1": 12, "dev2": "9"}
    assert cache.values("os.release") == {"dev1": {"major": 12, "full": "12.4"}, "dev2": {"major": "9"}}
    assert cache.values("tags") == {"dev1": ["web", "db"]}
    assert cache.values("virtual") == {"dev1": True}
    assert cache.values("load") == {"dev1": 0.5}
    assert cache.values("nothing") == {}
    assert cache.values("empty") == {"dev1": {}}
    assert cache.values("nosuch") == {}


def test_put_replaces_a_hosts_facts(cache):
    cache.put_many(FACTS, gathered_at=1.0)
    cache.put_many({"dev1": {"cluster": "charlie"}}, gathered_at=2.0)
    assert cache.values("os.family") == {"dev2": "redhat"}
    assert cache.values("cluster") == {"dev1": "charlie", "dev2": "bravo"}
    assert cache.gathered() == {"dev1": 2.0, "dev2": 1.0}


def test_store_gathered_uses_the_configured_cache(tmp_path):
    config = Config(fact_cache=f"sqlite:///{tmp_path}/new/facts.db")
    before = time.time()
    assert store_gathered(config, {"h": {"a": 1}}) == 1
    opened = open_cache(config.fact_cache)
    facts, gathered_at = opened.get_many(["h"])["h"]
    opened.close()
    assert facts == {"a": 1, "orch_fact_source": "gathered"} and gathered_at >= before


def test_reading_a_missing_sqlite_file_creates_nothing(tmp_path):
    opened = open_cache(f"sqlite:///{tmp_path}/none/facts.db")
    assert opened.values("x") == {} and opened.gathered() == {} and opened.all() == {}
    assert not (tmp_path / "none").exists()


def test_bad_urls_and_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown fact cache URL"):
        open_cache("mysql://x")
    bad = tmp_path / "bad.db"
    bad.write_text("not a database at all" * 100)
    with pytest.raises(InputError, match="fact cache"):
        open_cache(f"sqlite:///{bad}").values("x")


def test_records_helpers():
    assert lookup({"a": {"b": {"c": 1}}}, "a.b.c") == 1
    assert lookup({"a.b": {"c": 2}}, "a.b.c") == 2
    assert not lookup({"a": 1}, "a.b")
    assert deep_merge({"os": {"family": "debian", "major": 11}}, {"os": {"major": 12}}) == \
        {"os": {"family": "debian", "major": 12}}
    assert dict(flatten({"a": {"b": 1, "c": {}}, "d": [1]})) == {"a.b": 1, "a.c": {}, "d": [1]}
    assert [value_text(v) for v in (True, 12, 1.5, "x", [1, "a"])] == ["true", "12", "1.5", "x", '[1,"a"]']


def test_value_groups_and_the_sqlite_memo(cache):
    cache.put_many({"a": {"n": 12, "s": "x"}, "b": {"n": "12", "s": "x"}, "c": {"n": 12}})
    groups = sorted((repr(value), sorted(names)) for value, names in cache.value_groups("n"))
    assert groups == [("'12'", ["b"]), ("12", ["a", "c"])]
    assert [(v, sorted(n)) for v, n in cache.value_groups("s")] == [("x", ["a", "b"])]
    cache.value_groups("s")  # served from the memo on SQLite
    cache.put_many({"c": {"s": "y"}})  # a write invalidates it
    assert sorted((v, sorted(n)) for v, n in cache.value_groups("s")) == [("x", ["a", "b"]), ("y", ["c"])]
    assert sorted((repr(v), sorted(n)) for v, n in cache.value_groups("n")) == [("'12'", ["b"]), ("12", ["a"])]
