"""``orch discover`` end to end: real inventory file, real SQLite fact cache, captured output."""

import json
import time

from orch.config import Config
from orch.facts import open_cache
from orch.select import Filter, discover


def test_every_host_without_flags(fleet):
    assert fleet.run("discover") == (0, "dev1\ndev2\ndev3\nlb1\n", "")


def test_fact_class_agent_and_json(fleet):
    assert fleet.run("discover", "-F", "cluster=alfa", "-A", "appmgr")[:2] == (0, "dev1\ndev3\n")
    assert fleet.run("discover", "-C", "loadbalancer")[:2] == (0, "lb1\n")
    code, out, _ = fleet.run("discover", "-S", "cluster=alfa and (haproxy or not os.family=windows)",
                             "--json")
    assert code == 0 and json.loads(out) == ["dev1"]


def test_cached_facts_win_over_inventory_facts(fleet):
    fleet.import_facts({"dev2": {"cluster": "alfa", "os": {"release": {"major": 13}}},
                        "lb1": {"cluster": "alfa"}, "ghost": {"cluster": "alfa"}})
    assert fleet.run("discover", "-F", "cluster=alfa")[:2] == (0, "dev1\ndev2\ndev3\nlb1\n")
    # merged, not replaced: dev2's os.family still comes from the inventory
    assert fleet.run("discover", "-S", "os.family=debian and os.release.major>=12")[1] == "dev1\ndev2\n"


def test_nothing_matched_is_exit_1_with_the_filter(fleet):
    code, out, err = fleet.run("discover", "-F", "cluster=zulu", "-C", "web")
    assert (code, out) == (1, "")
    assert err == "orch: error: no host matched -C web -F cluster=zulu\n"


def test_malformed_expression_is_exit_2_one_line_with_column(fleet):
    code, out, err = fleet.run("discover", "-S", "cluster=alfa and or web")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "column 18" in err and "-S" in err


def test_max_age_refuses_stale_hosts(fleet):
    cache = open_cache(f"sqlite:///{fleet.folder}/state/facts.db")
    cache.put_many({"dev1": {"cluster": "alfa"}}, gathered_at=time.time())
    cache.put_many({"dev3": {"cluster": "alfa"}}, gathered_at=time.time() - 7200)
    cache.close()
    assert fleet.run("discover", "-I", "dev1", "--max-age", "1h")[:2] == (0, "dev1\n")
    code, out, err = fleet.run("discover", "-F", "cluster=alfa", "--max-age", "1h")
    assert (code, out) == (1, "")
    assert "older than 1h" in err and "dev2, dev3, lb1" in err and "dev1," not in err
    assert fleet.run("discover", "--max-age", "soon")[0] == 2


def test_limit_is_seeded(fleet):
    first = fleet.run("discover", "--limit", "2")
    assert first[0] == 0 and len(first[1].split()) == 2
    assert fleet.run("discover", "--limit", "2") == first


def test_discover_api_returns_hosts_with_merged_facts(fleet):
    cache_url = f"sqlite:///{fleet.folder}/state/facts.db"
    cache = open_cache(cache_url)
    cache.put_many({"dev1": {"os": {"release": {"major": 13}}, "kernel": "6.1"}}, gathered_at=5.0)
    cache.close()
    config = Config(inventory=(str(fleet.folder / "inventories" / "fleet.yml"),), fact_cache=cache_url)
    hosts = discover(config, Filter(facts=("os.release.major>12",)))
    assert [host.name for host in hosts] == ["dev1"]
    host = hosts[0]
    assert host.facts == {"cluster": "alfa", "kernel": "6.1", "os": {"family": "debian", "release": {"major": 13}}}
    assert host.gathered_at == 5.0
    assert "web" in host.classes and host.address == "dev1" and host.port == 22
    assert discover(config, Filter(identities=("nosuch",))) == []



MIXED = """\
[web]
web[01:30] classes=frontend
web31 classes=frontend,legacy agents=appmgr
[db]
db[1:5]
[db:vars]
agents=pgsql,nrpe
[app:children]
web
[legacy]
old1
"""


def test_classes_and_agents_from_groups_and_vars(tmp_path):
    from orch.inventory import load_inventory
    from orch.select.discovery import InventoryContext
    from orch.select.pattern import NamePattern

    path = tmp_path / "mixed.ini"
    path.write_text(MIXED)
    inventory = load_inventory([str(path)])
    names = set(inventory.hosts)
    context = InventoryContext(inventory.hosts, None, inventory)

    def classes(text):
        return context.with_class(NamePattern.parse(text), set(names))

    assert classes("app") == classes("web") == {f"web{i:02d}" for i in range(1, 31)} | {"web31"}
    assert classes("legacy") == {"web31", "old1"}
    assert classes("/^(db|leg)/") == {f"db{i}" for i in range(1, 6)} | {"web31", "old1"}
    assert classes("nosuch") == set()
    # hosts that list no agents (web01-30, old1) offer every module (orch.select.offers)
    bare = {f"web{i:02d}" for i in range(1, 31)} | {"old1"}
    assert context.with_agent(NamePattern.parse("nrpe"), set(names)) == {f"db{i}" for i in range(1, 6)} | bare
    assert context.with_agent(NamePattern.parse("/mgr$/"), set(names)) == {"web31"} | bare
    assert context.with_agent(NamePattern.parse("rpcutil"), set(names)) == names
    assert context.with_agent(NamePattern.parse("/^rpc/"), set(names)) == names
