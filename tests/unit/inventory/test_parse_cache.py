"""orch.inventory.parse_cache: a large YAML inventory is parsed once, and reads back the same."""

from __future__ import annotations

import os

import pytest

from orch.errors import InputError
from orch.inventory import load_inventory, parse_cache
from orch.inventory.model import UnsafeText
from orch.inventory.render import to_graph, to_list_json


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "inventory"


def big_inventory(hosts: int = 400, extra: str = "") -> str:
    lines = ["all:", "  vars:", "    region: eu", "  children:", "    web:", "      hosts:"]
    for n in range(hosts):
        lines += [f"        web{n}:", f"          ansible_host: 10.0.{n // 250}.{n % 250}",
                  "          facts:", f"            rack: r{n % 7}", "            os: {family: Debian}"]
    lines += ["    db:", "      hosts:", "        db1: &shared {ansible_port: 5432}",
              "        db2: *shared", "      vars:", "        tier: data"]
    text = "\n".join(lines) + "\n" + extra
    assert len(text) >= parse_cache.MIN_SIZE
    return text


def both_reads(tmp_path, text: str):
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    first = load_inventory(str(path))
    second = load_inventory(str(path))
    return first, second


def test_second_read_comes_from_the_cache_and_is_identical(tmp_path, cache_in_tmp):
    first, second = both_reads(tmp_path, big_inventory())
    entries = list(cache_in_tmp.glob("*.marshal"))
    assert len(entries) == 1
    assert (os.stat(cache_in_tmp).st_mode & 0o777) == 0o700
    assert to_list_json(first) == to_list_json(second)
    assert to_graph(first, show_vars=True) == to_graph(second, show_vars=True)
    assert second.hosts["db2"].port == 5432


def test_errors_name_the_same_line_from_the_cache(tmp_path, cache_in_tmp):
    text = big_inventory(extra="broken:\n  hosts:\n    bad1:\n  children: [not, a, mapping]\n")
    path = tmp_path / "inventory.yml"
    path.write_text(text)
    messages = []
    for _ in range(2):
        with pytest.raises(InputError) as raised:
            load_inventory(str(path))
        messages.append(str(raised.value))
    assert list(cache_in_tmp.glob("*.marshal")), "the parse itself succeeded, so it was cached"
    last_line = text.count("\n")  # the "children:" line, the file's last
    assert messages[0] == messages[1]
    assert messages[1].startswith(f"{path}:{last_line}: not a valid YAML inventory: "
                                  'Invalid "children" entry for "broken" group')


def test_unsafe_text_is_never_cached(tmp_path, cache_in_tmp):
    text = big_inventory(extra="secrets:\n  hosts:\n    s1:\n      token: !unsafe '{{ x }}'\n")
    first, second = both_reads(tmp_path, text)
    assert not list(cache_in_tmp.glob("*.marshal"))
    assert isinstance(second.hosts["s1"].vars["token"], UnsafeText)


def test_an_edited_file_is_parsed_again(tmp_path, cache_in_tmp):
    path = tmp_path / "inventory.yml"
    path.write_text(big_inventory())
    load_inventory(str(path))
    path.write_text(big_inventory().replace("region: eu", "region: us"))
    assert load_inventory(str(path)).groups["all"].vars["region"] == "us"
    assert len(list(cache_in_tmp.glob("*.marshal"))) == 2


def test_damaged_or_writable_entries_are_ignored(tmp_path, cache_in_tmp):
    text = big_inventory()
    expected = to_list_json(both_reads(tmp_path, text)[0])
    (entry,) = cache_in_tmp.glob("*.marshal")
    entry.write_bytes(b"\x00garbage")
    assert to_list_json(load_inventory(str(tmp_path / "inventory.yml"))) == expected
    entry.chmod(0o666)  # someone else could have written it: not trusted
    assert parse_cache.load(text) is None


def test_small_inventories_are_not_cached(tmp_path, cache_in_tmp):
    path = tmp_path / "small.yml"
    path.write_text("all:\n  hosts:\n    one:\n")
    load_inventory(str(path))
    assert not cache_in_tmp.exists()
