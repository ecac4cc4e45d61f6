"""Fact precedence in discovery (DESIGN §3): gathered < inventory ``facts`` < ``--import``.

Real inventory file, real SQLite cache written by ``store_gathered`` (as ``orch facts
--gather`` does) and by ``orch facts --import``.
"""

from orch.config import Config
from orch.facts import open_cache, store_gathered
from orch.facts.cache import SOURCE_KEY
from orch.select import Filter, discover


def _config(fleet):
    return Config(inventory=(str(fleet.folder / "inventories" / "fleet.yml"),),
                  fact_cache=f"sqlite:///{fleet.folder}/state/facts.db")


def test_inventory_facts_win_over_gathered_facts(fleet):
    config = _config(fleet)
    # dev2's inventory says cluster bravo, os.release.major 11; the host says otherwise.
    store_gathered(config, {"dev2": {"cluster": "alfa", "kernel": "Linux",
                                     "os": {"family": "Debian", "release": {"major": "12"}}}})
    assert fleet.run("discover", "-F", "cluster=alfa")[1] == "dev1\ndev3\n"
    assert fleet.run("discover", "-F", "cluster=bravo")[1] == "dev2\n"
    # nested facts merge key by key: the inventory's major wins, the host's kernel stays
    assert fleet.run("discover", "-F", "os.release.major=11", "-F", "kernel=Linux")[1] == "dev2\n"
    assert fleet.run("discover", "-F", "os.family=debian", "-F", "kernel=Linux")[1] == "dev2\n"
    [host] = discover(config, Filter(identities=("dev2",)))
    assert host.facts["cluster"] == "bravo"
    assert host.facts["os"] == {"family": "debian", "release": {"major": 11}}
    assert host.facts["kernel"] == "Linux" and host.facts[SOURCE_KEY] == "gathered"


def test_imported_facts_win_over_inventory_facts(fleet):
    fleet.import_facts({"dev2": {"cluster": "alfa", "os": {"release": {"major": 13}}}})
    assert fleet.run("discover", "-F", "cluster=alfa")[1] == "dev1\ndev2\ndev3\n"
    assert fleet.run("discover", "-F", "os.release.major=13", "-F", "os.family=debian")[1] == "dev2\n"
    [host] = discover(_config(fleet), Filter(identities=("dev2",)))
    assert host.facts["cluster"] == "alfa" and SOURCE_KEY not in host.facts


def test_gathered_nested_facts_reachable_by_dotted_keys(fleet):
    config = _config(fleet)
    store_gathered(config, {"lb1": {"processors": {"count": 2},
                                    "networking": {"hostname": "lb1"}}})
    assert fleet.run("discover", "-F", "processors.count>=1")[1] == "lb1\n"
    assert fleet.run("discover", "-F", "networking.hostname=lb1")[1] == "lb1\n"
    cache = open_cache(config.fact_cache)
    try:
        assert cache.values("processors.count") == {"lb1": 2}
    finally:
        cache.close()
