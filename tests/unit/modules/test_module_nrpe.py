"""nrpe module running the real check_load (monitoring-plugins-basic) from an NRPE config."""

from __future__ import annotations

import os
import re

import pytest
from module_support import Aborted, load_module

PLUGINS = "/usr/lib/nagios/plugins"
pytestmark = pytest.mark.skipif(not os.path.exists(f"{PLUGINS}/check_load"),
                                reason="monitoring-plugins-basic not installed")


@pytest.fixture
def nrpe(tmp_path):
    """An NRPE config with a passing check_load (thresholds far above this machine's load),
    a failing one (all thresholds 0), comments, blank lines and an include."""
    high = 100 * (os.cpu_count() or 1)
    (tmp_path / "extra.cfg").write_text(f"command[check_dummy_warn]={PLUGINS}/check_dummy 1 'half fine'\n")
    config = tmp_path / "nrpe.cfg"
    config.write_text(f"""\
# NRPE commands for this host
dont_blame_nrpe=0

command[check_load]={PLUGINS}/check_load -w {high},{high},{high} -c {high},{high},{high}
command[check_load_strict]={PLUGINS}/check_load -w 0,0,0 -c 0,0,0
   command[check_touch] = /usr/bin/touch {tmp_path}/touched
command[check_missing]=/nonexistent/check_nothing
include=extra.cfg
""")
    return {"nrpe": {"config": str(config)}}, tmp_path


def test_passing_check_load_reports_plugin_output(nrpe, call):
    config, _ = nrpe
    data = call("nrpe", "runcommand", {"command": "check_load"}, config)
    assert data["exitcode"] == 0
    assert data["output"].startswith("LOAD OK - total load average: ")
    assert data["perfdata"].startswith("load1=")
    assert set(data["metrics"]) == {"load1", "load5", "load15"}
    with open("/proc/loadavg") as handle:
        load1 = float(handle.read().split()[0])
    assert abs(data["metrics"]["load1"] - load1) < 5


def test_failing_check_aborts_with_plugin_output(nrpe, call):
    config, _ = nrpe
    with open("/proc/loadavg") as handle:
        if float(handle.read().split()[0]) == 0.0:
            pytest.skip("load average is exactly 0: check_load -c 0 cannot fail")
    with pytest.raises(Aborted, match=r"^LOAD CRITICAL - total load average: .*\(CRITICAL\)$"):
        call("nrpe", "runcommand", {"command": "check_load_strict"}, config)


def test_warning_from_included_file_aborts(nrpe, call):
    config, _ = nrpe
    with pytest.raises(Aborted, match=r"half fine \(WARNING\)"):
        call("nrpe", "runcommand", {"command": "check_dummy_warn"}, config)


def test_runs_without_a_shell_from_indented_definition(nrpe, call):
    config, folder = nrpe
    data = call("nrpe", "runcommand", {"command": "check_touch"}, config)
    assert data["exitcode"] == 0 and (folder / "touched").exists()


def test_unknown_command_names_the_config(nrpe, call):
    config, _ = nrpe
    with pytest.raises(Aborted, match=r"^no command 'check_disk' in .*nrpe\.cfg$"):
        call("nrpe", "runcommand", {"command": "check_disk"}, config)


def test_missing_plugin_and_missing_config_are_clear(nrpe, call, tmp_path):
    config, _ = nrpe
    with pytest.raises(Aborted, match="cannot run /nonexistent/check_nothing"):
        call("nrpe", "runcommand", {"command": "check_missing"}, config)
    with pytest.raises(Aborted, match="cannot read NRPE config .*gone.cfg"):
        call("nrpe", "runcommand", {"command": "check_load"},
             {"nrpe": {"config": str(tmp_path / "gone.cfg")}})


@pytest.mark.parametrize("name", ["check_load; touch /tmp/owned", "check_load\n", "$(id)",
                                  "../check_load", "check load"])
def test_metacharacters_rejected(nrpe, call, name):
    config, folder = nrpe
    validation = load_module("nrpe")["AGENT"]["actions"]["runcommand"]["inputs"]["command"]["validation"]
    assert not re.search(validation, name)
    with pytest.raises(Aborted, match="invalid command name"):
        call("nrpe", "runcommand", {"command": name}, config)
    assert not (folder / "touched").exists()


def test_plugin_output_parsing():
    module = load_module("nrpe")
    text, perf = module["split_plugin_output"](
        "DISK OK - free space | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n| /boot=68MB;88;93;0;98\n")
    assert text == "DISK OK - free space\n/ 15272 MB (77%);"
    assert perf == "/=2643MB;5948;5958;0;5968 /boot=68MB;88;93;0;98"
    assert module["parse_metrics"](perf) == {"/": 2643.0, "/boot": 68.0}
