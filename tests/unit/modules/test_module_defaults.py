"""The seed modules fall back to their software's own defaults (issue 14 item 3): HAProxy's
``/run/haproxy/admin.sock``, NRPE's ``/etc/nagios/nrpe.cfg`` with its ``include``/``include_dir``,
appmgr's FHS paths; a setting still missing is named with the host.json to set it in.

The default paths are module constants; each test loads the module fresh (as the runtime
does) and aims the constant at a temporary file, so this machine's /run and /etc stay alone.
"""

from __future__ import annotations

import os

import pytest
from module_support import Aborted, StandInRequest, load_module

PLUGINS = "/usr/lib/nagios/plugins"


def _run(namespace: dict, action: str, args: dict, config: dict, **host):
    declared = namespace["AGENT"]["actions"][action]["inputs"]
    filled = {key: spec["default"] for key, spec in declared.items() if "default" in spec}
    filled.update(args)
    return namespace[action](StandInRequest(filled, config, **host))


def test_haproxy_uses_the_packaged_admin_socket(lb):
    namespace = load_module("haproxy")
    assert namespace["DEFAULT_SOCKET"] == "/run/haproxy/admin.sock"
    namespace["DEFAULT_SOCKET"] = lb["socket"]
    data = _run(namespace, "status", {"backend": "app"}, {})
    assert data["backend"] == "app" and data["total"] == 3


def test_haproxy_without_socket_names_default_and_host_json(tmp_path):
    namespace = load_module("haproxy")
    namespace["DEFAULT_SOCKET"] = str(tmp_path / "admin.sock")
    with pytest.raises(Aborted, match=rf"^no HAProxy admin socket at {tmp_path}/admin.sock "
                                      r"\(HAProxy's default\): set config.haproxy.socket in "
                                      r"/etc/orch/host.json$"):
        _run(namespace, "status", {"backend": "app"}, {}, state_dir="/etc/orch")


@pytest.mark.skipif(not os.path.exists(f"{PLUGINS}/check_dummy"),
                    reason="monitoring-plugins-basic not installed")
def test_nrpe_reads_default_config_with_include_dir_and_include(tmp_path):
    nagios = tmp_path / "nagios"
    (nagios / "nrpe.d" / "site").mkdir(parents=True)
    (nagios / "nrpe.cfg").write_text(
        "server_port=5666\n"
        "command[check_a]=/bin/false\n"
        "include=nrpe_local.cfg\n"
        f"include_dir={nagios}/nrpe.d\n")
    (nagios / "nrpe_local.cfg").write_text(f"command[check_local]={PLUGINS}/check_dummy 0 local\n")
    (nagios / "nrpe.d" / "10-a.cfg").write_text(f"command[check_a]={PLUGINS}/check_dummy 0 overridden\n")
    (nagios / "nrpe.d" / "site" / "web.cfg").write_text(f"command[check_web]={PLUGINS}/check_dummy 0 web\n")
    (nagios / "nrpe.d" / "notes.txt").write_text("command[check_txt]=/bin/false\n")
    namespace = load_module("nrpe")
    assert namespace["DEFAULT_CONFIG"] == "/etc/nagios/nrpe.cfg"
    namespace["DEFAULT_CONFIG"] = str(nagios / "nrpe.cfg")
    assert _run(namespace, "runcommand", {"command": "check_local"}, {})["output"] == "OK: local"
    assert _run(namespace, "runcommand", {"command": "check_a"}, {})["output"] == "OK: overridden"
    assert _run(namespace, "runcommand", {"command": "check_web"}, {})["output"] == "OK: web"
    with pytest.raises(Aborted, match="no command 'check_txt'"):
        _run(namespace, "runcommand", {"command": "check_txt"}, {})


def test_nrpe_without_config_names_default_and_host_json(tmp_path):
    namespace = load_module("nrpe")
    namespace["DEFAULT_CONFIG"] = str(tmp_path / "nrpe.cfg")
    with pytest.raises(Aborted, match=rf"^no NRPE config at {tmp_path}/nrpe.cfg \(NRPE's default\): "
                                      r"set config.nrpe.config in /etc/orch/host.json$"):
        _run(namespace, "runcommand", {"command": "check_load"}, {}, state_dir="/etc/orch")


def test_appmgr_fills_fhs_defaults_and_names_what_only_the_operator_knows():
    namespace = load_module("appmgr")
    request = StandInRequest({}, {"appmgr": {"port": 8080, "command": ["/usr/bin/app"]}},
                             state_dir="/etc/orch")
    settings = namespace["_settings"](request)
    assert settings["address"] == "127.0.0.1"
    assert settings["pidfile"] == "/run/appmgr/app.pid"
    assert settings["revision_file"] == "/var/lib/appmgr/revision"
    assert settings["port"] == 8080
    with pytest.raises(namespace["AppError"], match=r"set config.appmgr.command in /etc/orch/host.json$"):
        namespace["_settings"](StandInRequest({}, {"appmgr": {"port": 1}}, state_dir="/etc/orch"))
