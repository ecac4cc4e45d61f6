"""The four fleet modules as the runtime sees them: Python 3.6, stdlib only, declarations that
the shared validator (orch/runtime/core.py) enforces on command-line shaped input."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from module_support import MODULES, load_module

from orch import schema
from orch.runtime import core

FLEET = ["haproxy", "appmgr", "nrpe", "angelianotify"]
COLLECTION = ["command", "service", "package", "file", "user", "group"]
SHIPPED = FLEET + COLLECTION
# Per-action keys the runtime and controller honour besides description/inputs/outputs/aggregate.
ACTION_FLAGS = {"check_mode", "read_only", "needs_root"}


@pytest.mark.parametrize("name", SHIPPED)
def test_python36_and_stdlib_only(name):
    from orch.agents.checker import check_file

    assert [str(problem) for problem in check_file(MODULES / f"{name}.py")] == []
    tree = ast.parse((MODULES / f"{name}.py").read_text(), feature_version=(3, 6))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom)}
    assert imported - {"orch_runtime"} <= set(sys.stdlib_module_names)
    assert "__future__" not in imported


@pytest.mark.parametrize("name", SHIPPED)
def test_declaration_is_complete(name):
    module = load_module(name)
    agent = module["AGENT"]
    assert agent["name"] == name and agent["version"] and agent["description"]
    assert 0 < agent["timeout"] <= 120
    for action, spec in agent["actions"].items():
        assert core.action_function(module, action) is not None, action
        assert spec["description"]
        for input_name, input_spec in spec["inputs"].items():
            assert input_spec["type"] in core.INPUT_TYPES
            if input_spec["type"] != "boolean":
                assert input_spec.get("validation"), f"{action}.{input_name} has no validation"
                assert input_spec.get("maxlength"), f"{action}.{input_name} has no maxlength"
        extra = set(spec) - {"description", "inputs", "outputs", "aggregate"}
        assert extra <= ACTION_FLAGS, extra
        assert all(spec[flag] is True for flag in extra)
        if name in COLLECTION:
            assert spec.get("check_mode") is True and "changed" in spec["outputs"] or \
                spec.get("read_only") is True, action
        for aggregate in spec.get("aggregate", []):
            assert aggregate["function"] in {"summary", "sum", "average", "min", "max",
                                             "boolean_summary"}
            assert aggregate["args"][0] in spec["outputs"], aggregate


def test_modules_load_in_the_remote_interpreter():
    """The hosts run /usr/bin/python3 -I -S: each module must import there with nothing else."""
    script = ("import sys, types\n"
              "runtime = types.ModuleType('orch_runtime')\n"
              "sys.modules['orch_runtime'] = runtime\n"
              "exec(compile(open(sys.argv[1]).read(), 'core.py', 'exec'), runtime.__dict__)\n"
              "for path in sys.argv[2:]:\n"
              "    namespace = {'__name__': 'm'}\n"
              "    exec(compile(open(path).read(), path, 'exec'), namespace)\n"
              "    assert namespace['AGENT']['actions']\n")
    paths = [str(MODULES.parent / "orch" / "runtime" / "core.py")] + [
        str(MODULES / f"{name}.py") for name in SHIPPED]
    done = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", script, *paths],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


GOOD = [
    ("haproxy", "disable", {"backend": "app", "server": "dev2,dev4"},
     {"backend": "app", "server": ["dev2", "dev4"], "drain": False}),
    ("haproxy", "disable", {"backend": "app", "server": "dev2", "drain": "yes"},
     {"backend": "app", "server": ["dev2"], "drain": True}),
    ("haproxy", "status", {"backend": "app"}, {"backend": "app"}),
    ("appmgr", "upgrade", {"revision": "20"}, {"revision": 20}),
    ("nrpe", "runcommand", {"command": "check_load"}, {"command": "check_load"}),
    ("angelianotify", "sendmsg",
     {"recipient": "rip", "message": "rip updated 4 node cluster bravo to revision 20"},
     {"recipient": "rip", "message": "rip updated 4 node cluster bravo to revision 20",
      "subject": ""}),
]


@pytest.mark.parametrize("module, action, given, expected", GOOD)
def test_command_line_input_accepted(module, action, given, expected):
    agent = load_module(module)["AGENT"]
    assert core.validate_args(agent, action, schema.coerce_args(agent, action, given)) == expected


BAD = [
    ("haproxy", "disable", {"backend": "app;show info", "server": "dev2"}, "backend"),
    ("haproxy", "disable", {"backend": "app\n", "server": "dev2"}, "backend"),
    ("haproxy", "enable", {"backend": "app", "server": "dev2,dev4;shutdown"}, "server"),
    ("haproxy", "enable", {"backend": "app", "server": "dev2,$(id)"}, "server"),
    ("haproxy", "status", {"backend": "a b"}, "backend"),
    ("appmgr", "upgrade", {"revision": "twenty"}, "revision"),
    ("appmgr", "upgrade", {"revision": "-3"}, "revision"),
    ("appmgr", "upgrade", {"revision": "20; reboot"}, "revision"),
    ("nrpe", "runcommand", {"command": "check_load; rm -rf /"}, "command"),
    ("nrpe", "runcommand", {"command": "`id`"}, "command"),
    ("angelianotify", "sendmsg", {"recipient": "rip|mail", "message": "x"}, "recipient"),
    ("angelianotify", "sendmsg", {"recipient": "rip", "message": "x\x00y"}, "message"),
]


@pytest.mark.parametrize("module, action, given, field", BAD)
def test_bad_input_is_invalid_data_naming_the_field(module, action, given, field):
    agent = load_module(module)["AGENT"]
    with pytest.raises(core.ValidationError) as error:
        core.validate_args(agent, action, schema.coerce_args(agent, action, given))
    assert error.value.status == core.INVALID_DATA and error.value.field == field
    assert f"'{field}'" in error.value.message


def test_missing_required_input_is_missing_data():
    agent = load_module("appmgr")["AGENT"]
    with pytest.raises(core.ValidationError) as error:
        core.validate_args(agent, "upgrade", {})
    assert error.value.status == core.MISSING_DATA


def test_aggregates_render_as_an_operator_reads_them():
    from orch.agents.aggregate import summarize

    agent = load_module("appmgr")["AGENT"]
    replies = [{"revision": 20, "changed": True}] * 3 + [{"revision": 20, "changed": False}]
    revision, restarted = summarize(agent, "upgrade", replies)
    assert revision.title == "Summary of Revision" and revision.lines == [["Revision 20", "4 nodes"]]
    assert restarted.lines == [["Restarted yes", "3 nodes"], ["Restarted no", "1 node"]]
    (status,) = summarize(agent, "status", [{"revision": 20}] * 4)
    assert status.lines == [["Revision 20", "4 nodes"]]


COLLECTION_BAD = [
    ("command", "run", {"argv": "true", "cwd": "tmp"}, "cwd"),
    ("command", "run", {"argv": "true", "timeout": "soon"}, "timeout"),
    ("service", "restart", {"name": "ssh;reboot"}, "name"),
    ("service", "status", {"name": "../../bin/sh"}, "name"),
    ("package", "install", {"name": "curl", "version": "1.0;id"}, "version"),
    ("package", "remove", {"name": "--purge"}, "name"),
    ("file", "write", {"path": "etc/motd", "content": "x"}, "path"),
    ("file", "write", {"path": "/etc/motd", "content": "x", "mode": "rwx"}, "mode"),
    ("file", "write", {"path": "/etc/motd", "content": "x", "owner": "root;id"}, "owner"),
]


@pytest.mark.parametrize("module, action, given, field", COLLECTION_BAD)
def test_collection_bad_input_is_invalid_data(module, action, given, field):
    agent = load_module(module)["AGENT"]
    with pytest.raises(core.ValidationError) as error:
        core.validate_args(agent, action, schema.coerce_args(agent, action, given))
    assert error.value.status == core.INVALID_DATA and error.value.field == field


def test_sensitive_inputs_are_masked_in_the_audit_line():
    command = load_module("command")["AGENT"]
    masked = core.mask_args(command, "run", {"argv": ["cat"], "stdin": "hunter2"})
    assert masked == {"argv": ["cat"], "stdin": core.MASK}
    file_agent = load_module("file")["AGENT"]
    masked = core.mask_args(file_agent, "write", {"path": "/etc/x", "content": "hunter2"})
    assert masked == {"path": "/etc/x", "content": core.MASK}


def test_collection_aggregates():
    from orch.agents.aggregate import summarize

    service = load_module("service")["AGENT"]
    (state,) = summarize(service, "status", [{"state": "running"}] * 3 + [{"state": "stopped"}])
    assert state.title == "Summary of State"
    assert state.lines == [["State running", "3 nodes"], ["State stopped", "1 node"]]
    package = load_module("package")["AGENT"]
    (version,) = summarize(package, "status", [{"version": "2.0-1"}] * 2)
    assert version.lines == [["Version 2.0-1", "2 nodes"]]
