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


def test_classes_a_gathered_host_reported_are_seen_by_classes_and_compound(fleet):
    config = _config(fleet)
    store_gathered(config, {"dev1": {"kernel": "Linux"}, "dev2": {"kernel": "Linux"},
                            "lb1": {"kernel": "Linux"}},
                   classes={"dev1": ["db_primary", "web"], "dev2": ["nginx::server"],
                            "lb1": []})
    assert fleet.run("discover", "-C", "db_primary")[1] == "dev1\n"
    assert fleet.run("discover", "-C", "/^nginx::/")[1] == "dev2\n"
    assert fleet.run("discover", "-C", "web", "-C", "db_primary")[1] == "dev1\n"
    assert fleet.run("discover", "-S", "db_primary or loadbalancer")[1] == "dev1\nlb1\n"
    assert fleet.run("discover", "-S", "nginx::server and cluster=bravo")[1] == "dev2\n"
    [host] = discover(config, Filter(identities=("dev2",)))
    assert "nginx::server" in host.classes and "web" in host.classes
    code, _, err = fleet.run("discover", "-C", "mysql")
    assert code == 1


def test_imported_records_cannot_claim_classes(fleet):
    fleet.import_facts({"dev3": {"orch_classes": ["db_primary"]}})
    code, out, _ = fleet.run("discover", "-C", "db_primary")
    assert code == 1 and out == ""


def test_a_host_cannot_report_classes_through_its_facts(fleet):
    config = _config(fleet)
    store_gathered(config, {"dev3": {"orch_classes": ["db_primary"]}})
    assert fleet.run("discover", "-C", "db_primary")[0] == 1
