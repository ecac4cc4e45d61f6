"""haproxy module against a real HAProxy started from a config in a tmp folder."""

from __future__ import annotations

import os
import re
import urllib.request

import pytest
from module_support import HAPROXY, Aborted, haproxy_states, load_module

pytestmark = pytest.mark.skipif(not os.path.exists(HAPROXY), reason="haproxy not installed")


def served_by(frontend: str, requests: int = 9) -> set:
    return {urllib.request.urlopen(frontend, timeout=5).read().decode() for _ in range(requests)}


def test_disable_puts_servers_in_maint_and_traffic_avoids_them(lb, call):
    assert served_by(lb["frontend"]) == {"dev1", "dev2", "dev3"}
    data = call("haproxy", "disable", {"backend": "app", "server": "dev2,dev3"}, lb["config"])
    assert data["servers"] == {"dev2": "MAINT", "dev3": "MAINT"}
    assert data["previous"] == {"dev2": "UP", "dev3": "UP"}
    assert haproxy_states(lb["socket"]) == {"dev1": "READY", "dev2": "MAINT", "dev3": "MAINT"}
    assert served_by(lb["frontend"]) == {"dev1"}

    data = call("haproxy", "enable", {"backend": "app", "server": ["dev2", "dev3"]}, lb["config"])
    assert data["servers"] == {"dev2": "UP", "dev3": "UP"}
    assert haproxy_states(lb["socket"]) == {"dev1": "READY", "dev2": "READY", "dev3": "READY"}
    assert served_by(lb["frontend"]) == {"dev1", "dev2", "dev3"}


def test_drain_sets_drain_state(lb, call):
    data = call("haproxy", "disable", {"backend": "app", "server": ["dev1"], "drain": True},
                lb["config"])
    assert data["state"] == "DRAIN" and data["servers"] == {"dev1": "DRAIN"}
    assert haproxy_states(lb["socket"])["dev1"] == "DRAIN"


def test_status_lists_servers_and_counts(lb, call):
    call("haproxy", "disable", {"backend": "app", "server": "dev2"}, lb["config"])
    data = call("haproxy", "status", {"backend": "app"}, lb["config"])
    assert list(data["servers"].items()) == [("dev1", "UP"), ("dev2", "MAINT"), ("dev3", "UP")]
    assert data["details"][1]["name"] == "dev2" and data["details"][1]["admin_state"] & 0x01
    assert data["states"] == "MAINT 1, UP 2"
    assert (data["up"], data["maint"], data["total"]) == (2, 1, 3)


def test_unknown_backend_aborts_and_changes_nothing(lb, call):
    with pytest.raises(Aborted, match="no backend 'nope' in HAProxy"):
        call("haproxy", "disable", {"backend": "nope", "server": "dev1"}, lb["config"])
    with pytest.raises(Aborted, match="no backend 'nope' in HAProxy"):
        call("haproxy", "status", {"backend": "nope"}, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


def test_server_not_in_backend_aborts_before_any_change(lb, call):
    # dev1 exists and comes first: it must not be disabled when dev9 is unknown.
    with pytest.raises(Aborted, match="server dev9 is not in backend app"):
        call("haproxy", "disable", {"backend": "app", "server": "dev1,dev9"}, lb["config"])
    # 'lone' lives in another backend.
    with pytest.raises(Aborted, match="server lone is not in backend app"):
        call("haproxy", "disable", {"backend": "app", "server": ["lone"]}, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


@pytest.mark.parametrize("args", [
    {"backend": "app;disable frontend web", "server": "dev1"},
    {"backend": "app\nshow info", "server": "dev1"},
    {"backend": "app", "server": "dev1;shutdown sessions server app/dev1"},
    {"backend": "app", "server": ["dev1 state maint\nset server app/dev2"]},
    {"backend": "app", "server": "$(touch /tmp/x)"},
])
def test_metacharacters_rejected_by_declaration_and_module(lb, call, args):
    module = load_module("haproxy")
    inputs = module["AGENT"]["actions"]["disable"]["inputs"]
    declared_ok = all(
        re.search(inputs[key]["validation"], value if isinstance(value, str) else ",".join(value))
        for key, value in args.items())
    assert not declared_ok
    with pytest.raises(Aborted, match="invalid"):
        call("haproxy", "disable", args, lb["config"])
    assert set(haproxy_states(lb["socket"]).values()) == {"READY"}


def test_missing_socket_is_a_clear_abort(tmp_path, call):
    config = {"haproxy": {"socket": str(tmp_path / "gone.sock")}}
    with pytest.raises(Aborted, match="gone.sock does not exist"):
        call("haproxy", "status", {"backend": "app"}, config)
    with pytest.raises(Aborted, match=r"set config.haproxy.socket in /nonexistent/host.json$"):
        call("haproxy", "enable", {"backend": "app", "server": "dev1"}, {})
