"""The lab's layout without starting anything: addresses, topology, files, inventories."""

import json

import pytest
import yaml

from orch.errors import InputError
from orch.lab import layout


def test_addresses_fill_250_per_network_then_move_on():
    assert layout.address(0) == "127.0.1.1"
    assert layout.address(249) == "127.0.1.250"
    assert layout.address(250) == "127.0.2.1"
    assert layout.address(1001) == "127.0.5.2"


def test_topology_halves_clusters_and_names_roles():
    hosts = layout.topology(6)
    assert [h.name for h in hosts] == ["lb1", "notify1"] + [f"dev{i}" for i in range(1, 7)]
    clusters = {h.name: h.facts.get("cluster") for h in hosts}
    assert [clusters[f"dev{i}"] for i in range(1, 7)] == ["alfa"] * 3 + ["bravo"] * 3
    assert hosts[0].classes == ("haproxy",) and "haproxy" in hosts[0].agents
    assert "angelianotify" in hosts[1].agents
    assert set(hosts[2].agents) == {"rpcutil", "appmgr", "nrpe"}
    assert len({h.address for h in layout.topology(1000)}) == 1002
    with pytest.raises(InputError):
        layout.topology(0)


def _settings(tmp_path):
    return layout.LabSettings(dir=str(tmp_path / "lab"), n=4, port=2299, app_port=18080,
                              frontend_port=18000, webhook_port=18081, user="orchlab",
                              max_apps=50, inventory=str(tmp_path / "inv" / "lab.yml"),
                              inventory_ini=str(tmp_path / "inv" / "lab.ini"))


def test_host_folders_and_inventories(tmp_path):
    settings = _settings(tmp_path)
    hosts = layout.topology(4)
    (tmp_path / "lab").mkdir()
    layout.write_hosts(tmp_path / "lab", hosts, settings, "ssh-ed25519 AAAAkey comment")
    dev3 = json.loads((tmp_path / "lab" / "addr" / "127.0.1.5" / "host.json").read_text())
    assert dev3["name"] == "dev3" and dev3["facts"]["cluster"] == "bravo"
    assert dev3["config"]["appmgr"]["command"][0] == "/usr/bin/python3"
    assert (tmp_path / "lab" / "hosts" / "dev3" / "app" / "revision").read_text() == "19\n"
    assert (tmp_path / "lab" / "hosts" / "lb1" / "callers").read_text() == \
        "ssh-ed25519 AAAAkey labadmin\n"
    # a second write keeps the revision an upgrade left behind
    (tmp_path / "lab" / "hosts" / "dev3" / "app" / "revision").write_text("20\n")
    layout.write_hosts(tmp_path / "lab", layout.topology(3), settings, "ssh-ed25519 AAAAkey")
    assert (tmp_path / "lab" / "hosts" / "dev3" / "app" / "revision").read_text() == "20\n"
    assert not (tmp_path / "lab" / "hosts" / "dev4").exists()
    assert not (tmp_path / "lab" / "addr" / "127.0.1.6").exists()

    layout.write_inventories(settings, hosts)
    document = yaml.safe_load((tmp_path / "inv" / "lab.yml").read_text())
    web = document["all"]["children"]["web"]["children"]
    assert list(web["alfa"]["hosts"]) == ["dev1", "dev2"]
    assert web["bravo"]["hosts"]["dev4"]["ansible_port"] == 2299
    ini = (tmp_path / "inv" / "lab.ini").read_text()
    assert "[web:children]\nalfa\nbravo\n" in ini
    assert "dev4 ansible_host=127.0.1.6 ansible_port=2299 ansible_user=orchlab" in ini


def test_inventory_not_written_by_the_lab_is_left_alone(tmp_path):
    settings = _settings(tmp_path)
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "lab.yml").write_text("all:\n  hosts:\n    prod1:\n")
    with pytest.raises(InputError, match="not written by 'orch lab up'"):
        layout.write_inventories(settings, layout.topology(2))
    assert "prod1" in (tmp_path / "inv" / "lab.yml").read_text()


def test_check_load_thresholds_scale_with_cores():
    assert layout.load_thresholds(2) == ("50,50,50", "100,100,100")
