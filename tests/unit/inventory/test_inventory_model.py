"""What orch itself reads from an inventory: connection settings, facts, classes, agents,
precedence, folders, the default inventory from orch.cfg, and the cost of 100,000 hosts."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from orch.cli import main
from orch.cli.env import Environment
from orch.errors import InputError
from orch.inventory import load_inventory

DATA = Path(__file__).resolve().parents[2] / "data" / "inventory" / "cases"


def _orch(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, env=Environment(stdout=out, stderr=err, stdin=io.StringIO(), cwd=cwd,
                                      environ={}))
    return code, out.getvalue(), err.getvalue()


def test_connection_settings_come_from_ansible_vars():
    inventory = load_inventory([str(DATA / "orch_keys.yml")])
    lb1 = inventory.hosts["lb1"]
    assert (lb1.address, lb1.port, lb1.user, lb1.key) == ("127.0.1.1", 2222, "orch", None)
    dev1 = inventory.hosts["dev1"]
    assert (dev1.address, dev1.port, dev1.user) == ("dev1", 22, None)


def test_orch_keys_are_inherited_like_vars():
    inventory = load_inventory([str(DATA / "orch_keys.yml")])
    lb1, dev1, dev2 = (inventory.hosts[name] for name in ("lb1", "dev1", "dev2"))
    # facts: the nearest definition wins whole (Ansible replaces dicts, it does not merge them)
    assert lb1.facts == {"os": "debian", "tier": "base"}
    assert dev1.facts["os"]["release"]["major"] == 12 and dev1.facts["cluster"] == "alfa"
    assert dev2.facts == {"cluster": "bravo", "tier": "web"}
    # classes: the classes var plus every group, ancestors included, never "all"
    assert lb1.classes == {"loadbalancer", "haproxy"}
    assert dev2.classes == {"canary", "bravo", "web"}
    assert dev1.classes == {"web"}
    # agents: from the nearest agents var
    assert lb1.agents == {"rpcutil", "haproxy"}
    assert dev2.agents == {"rpcutil", "appmgr", "nrpe"}
    assert dev2.groups == ("web", "bravo")
    assert list(inventory.hosts) == ["lb1", "dev2", "dev1"]


def test_ini_classes_and_agents_may_be_comma_separated(tmp_path: Path):
    source = tmp_path / "hosts.ini"
    source.write_text("[web]\nw1 agents=rpcutil,appmgr classes=a,b\n[web:vars]\nfacts={'x': 1}\n")
    host = load_inventory([str(source)]).hosts["w1"]
    assert host.agents == {"rpcutil", "appmgr"} and host.classes == {"a", "b", "web"}
    assert host.facts == {"x": 1}


def test_precedence_child_over_parent_depth_then_name_host_last():
    host = load_inventory([str(DATA / "synthetic_precedence.ini")]).hosts["web1"]
    assert host.vars["level"] == "web"          # child (depth 3) over apps (2) over dc (1)
    assert host.vars["name_order"] == "web"     # db and web at depth 3: later name wins
    assert host.vars["shallow"] == "zeta"       # alpha and zeta at depth 1: zeta wins
    assert host.vars["diamond"] == "left"       # depth is the longest path from all
    assert host.vars["role"] == "web1again"     # host over group; a later host line wins
    assert host.vars["shared"] == "all"


def test_group_priority_reorders_same_depth_groups():
    inventory = load_inventory([str(DATA / "synthetic_group_priority.yml")])
    assert inventory.hosts["h1"].vars["who"] == "aaa"
    assert "ansible_group_priority" not in inventory.hosts["h1"].vars


def test_folder_merges_in_name_order_and_reads_group_vars():
    inventory = load_inventory([str(DATA / "synthetic_folder_merge")])
    assert set(inventory.hosts) == {"w1", "w2", "w3", "d1", "d2"}
    assert inventory.hosts["w1"].vars == {"from": "yaml20", "layer": 20, "ignored": 1}
    assert "ignored" not in inventory.groups and "nope" not in inventory.hosts


def test_host_vars_folder_beats_inventory_host_vars(tmp_path: Path):
    (tmp_path / "hosts").write_text("[web]\nw1 x=inventory y=1\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "w1.yml").write_text("x: host_vars\n")
    (tmp_path / "group_vars" / "web").mkdir(parents=True)
    (tmp_path / "group_vars" / "web" / "a.yml").write_text("y: 2\nz: 3\n")
    host = load_inventory([str(tmp_path / "hosts")]).hosts["w1"]
    assert host.vars == {"x": "host_vars", "y": 1, "z": 3}


def test_bad_vars_file_names_the_file(tmp_path: Path):
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("- not\n- a mapping\n")
    with pytest.raises(InputError) as raised:
        load_inventory([str(tmp_path / "hosts")])
    assert raised.value.where.file == str(tmp_path / "group_vars" / "web.yml")


def test_missing_inventory_is_input_error(tmp_path: Path):
    with pytest.raises(InputError, match="not found"):
        load_inventory([str(tmp_path / "nope.yml")])


def test_cli_reads_the_default_inventory_from_orch_cfg(tmp_path: Path):
    (tmp_path / "inv").mkdir()
    (tmp_path / "inv" / "hosts.ini").write_text("[web]\nw1 a=1\n")
    (tmp_path / "orch.cfg").write_text("[defaults]\ninventory = inv/hosts.ini\n")
    code, out, err = _orch(["inventory", "--list"], tmp_path)
    assert (code, err) == (0, "")
    listing = json.loads(out)
    assert listing["web"] == {"hosts": ["w1"]}
    assert listing["_meta"]["hostvars"]["w1"] == {"a": 1}
    assert out.startswith('{\n    "_meta": {\n        "hostvars": {\n')


def test_cli_graph_from_a_group_without_vars(tmp_path: Path):
    code, out, _ = _orch(["inventory", "--graph", "web", "-i", str(DATA / "orch_keys.yml")],
                         tmp_path)
    assert code == 0
    assert out == "@web:\n  |--@bravo:\n  |  |--dev2\n  |--dev1\n"


@pytest.mark.parametrize("argv", [["inventory", "--host", "nosuch"],
                                  ["inventory", "--graph", "nosuch"]])
def test_cli_unknown_host_or_group_is_one_line_exit_2(argv: list[str], tmp_path: Path):
    code, out, err = _orch(argv + ["-i", str(DATA / "orch_keys.yml")], tmp_path)
    assert code == 2 and out == "" and err.count("\n") == 1 and "nosuch" in err


def test_hundred_thousand_hosts_load_fast(tmp_path: Path):
    source = tmp_path / "big.ini"
    source.write_text("[web]\nhost[000000:099999]\n[web:vars]\nfacts={'cluster': 'alfa'}\n"
                      "agents=rpcutil,appmgr\n[alfa:children]\nweb\n[db]\nhost000007\n")
    started = time.process_time()
    inventory = load_inventory([str(source)])
    matched = sum(1 for host in inventory.hosts.values()
                  if "alfa" in host.classes and host.facts.get("cluster") == "alfa"
                  and "appmgr" in host.agents)
    elapsed = time.process_time() - started
    assert len(inventory.hosts) == 100_000 and matched == 100_000
    assert inventory.hosts["host000007"].groups == ("alfa", "db", "web")
    assert inventory.hosts["host099999"].address == "host099999"
    assert elapsed < 1.0, f"100,000 hosts took {elapsed:.2f} s of CPU"


def test_ini_inventory_loads_without_importing_yaml(tmp_path: Path):
    """``import orch.inventory`` stays light: an INI inventory never needs PyYAML."""
    import subprocess
    import sys

    source = tmp_path / "hosts.ini"
    source.write_text("[web]\nw[1:3]\n")
    code = ("import sys; from orch.inventory import load_inventory; "
            f"inv = load_inventory([{str(source)!r}]); "
            "assert len(inv.hosts) == 3; assert 'yaml' not in sys.modules, 'yaml imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
