"""The real runtime in a subprocess, spoken to over its frame protocol (no mocks)."""

import json
import os
import re
import sys
import uuid

import pytest
from runtime_harness import DEMO_MODULE, audit_lines

from orch.runtime import core

AUDIT = re.compile(
    r"^reqid=(?P<reqid>[0-9a-f]{32}): reqtime=(?P<reqtime>\d+) caller=(?P<caller>\S+) "
    r"agent=(?P<agent>\S+) action=(?P<action>\S+) data=(?P<data>.*?) "
    r"result=(?P<result>allowed|denied|refused) reason=(?P<reason>.*?)(?: status=(?P<status>\S+))?$"
)


def test_hello_then_ping(runtime, state_dir):
    process = runtime()
    assert process.hello["kind"] == "hello"
    assert process.hello["host"] == "dev1"
    assert process.hello["state_dir"] == str(state_dir)
    assert re.match(r"^3\.\d+\.\d+$", process.hello["python"])
    same_python = process.hello["python"].split(".")[:2] == [str(n) for n in sys.version_info[:2]]
    assert process.hello["loaded_from"] == ("bytecode" if same_python else "source")
    reply = process.call("rpcutil", "ping")
    assert reply["status"] == "OK", reply
    assert isinstance(reply["data"]["pong"], int) and reply["data"]["pong"] > 1_600_000_000
    assert process.close() == 0


def test_inventory_and_get_fact(runtime):
    process = runtime()
    data = process.call("rpcutil", "inventory")["data"]
    assert data["facts"]["cluster"] == "alfa"
    assert data["classes"] == ["web"] and data["agents"] == ["appmgr", "rpcutil"]
    assert data["host"] == "dev1" and data["python"].startswith("3.")
    reply = process.call("rpcutil", "get_fact", {"fact": "os.family"})
    assert reply["status"] == "OK" and reply["data"] == {"fact": "os.family", "value": "debian"}
    missing = process.call("rpcutil", "get_fact", {"fact": "nope"})
    assert missing["status"] == "OK" and missing["data"]["value"] is None


def test_validation_failures(runtime):
    process = runtime()
    missing = process.call("rpcutil", "get_fact", {})
    assert missing["status"] == "MissingData" and "fact" in missing["message"]
    bad_type = process.call("rpcutil", "get_fact", {"fact": 12})
    assert bad_type["status"] == "InvalidData" and "string" in bad_type["message"]
    bad_regex = process.call("rpcutil", "get_fact", {"fact": "a b"})
    assert bad_regex["status"] == "InvalidData" and "does not match" in bad_regex["message"]
    too_long = process.call("rpcutil", "get_fact", {"fact": "x" * 201})
    assert too_long["status"] == "InvalidData" and "maxlength" in too_long["message"]
    unknown_input = process.call("rpcutil", "ping", {"color": "red"})
    assert unknown_input["status"] == "InvalidData" and "color" in unknown_input["message"]
    # Each refused request was still audited, and the process keeps serving.
    assert process.call("rpcutil", "ping")["status"] == "OK"


def test_unknown_action_and_unknown_module(runtime):
    process = runtime()
    reply = process.call("rpcutil", "reboot")
    assert reply["status"] == "UnknownAction" and "reboot" in reply["message"]
    reply = process.call("nosuch", "ping")
    assert reply["status"] == "Aborted" and "unknown module 'nosuch'" in reply["message"]


def test_declared_action_without_function_is_unknown_action(runtime):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    assert process.call("demo", "ghost")["status"] == "UnknownAction"


def test_policy_denial_is_audited_and_not_run(runtime, state_dir, tmp_path):
    (state_dir / "policy").mkdir()
    (state_dir / "policy" / "demo.policy").write_text(
        "# only rpcutil-style reads for strangers\n"
        "policy default deny\n"
        "allow\tnobody\ttouch\t*\t*\n"
        "allow\t*\tlogin\tcluster=alfa\tweb\n"
    )
    target = tmp_path / "touched"
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reqid = uuid.uuid4().hex
    reply = process.call("demo", "touch", {"path": str(target)}, reqid=reqid)
    assert reply["status"] == "Aborted" and "denied by policy" in reply["message"]
    assert not target.exists()
    assert any(line.startswith(f"reqid={reqid}: ") and "action=touch" in line
               and " result=denied reason=" in line for line in audit_lines(state_dir))
    # The allow line matches facts and classes, so this one runs.
    assert process.call("demo", "login", {"user": "rip", "password": "abc"})["status"] == "OK"
    # No policy for rpcutil: allowed.
    assert process.call("rpcutil", "ping")["status"] == "OK"


def test_policy_with_facts_that_do_not_match_denies(runtime, state_dir):
    (state_dir / "policy").mkdir()
    (state_dir / "policy" / "rpcutil.policy").write_text(
        "policy default deny\nallow\t*\tping\tcluster=bravo\t*\ndeny\t*\tinventory\t*\t*\n"
        "allow\t*\t*\t*\t/^we/\n"
    )
    process = runtime()
    assert process.call("rpcutil", "ping")["status"] == "OK"  # last line: class /^we/ matches web
    assert process.call("rpcutil", "inventory")["status"] == "Aborted"
    (state_dir / "policy" / "rpcutil.policy").write_text("policy default deny\n")
    assert process.call("rpcutil", "ping")["status"] == "Aborted"
    (state_dir / "policy" / "rpcutil.policy").write_text("allow only some\n")
    reply = process.call("rpcutil", "ping")
    assert reply["status"] == "Aborted" and "line 1" in reply["message"]


def test_audit_line_per_request_with_masked_sensitive_input(runtime, state_dir):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    reply = process.call("demo", "login", {"user": "rip", "password": "hunter2"}, reqid=first)
    assert reply["status"] == "OK"
    assert reply["data"] == {"ok": False, "user": "rip"}  # output default filled
    process.call("rpcutil", "ping", reqid=second)
    lines = audit_lines(state_dir)
    assert len(lines) == 4  # each allowed request: the decision before, the status after
    assert lines[0].endswith(" result=allowed reason=policy")
    assert lines[1] == lines[0] + " status=OK"
    lines = [lines[0], lines[2]]
    parsed = [AUDIT.match(line) for line in lines]
    assert all(parsed), lines
    assert parsed[0]["reqid"] == first and parsed[1]["reqid"] == second
    assert parsed[0]["agent"] == "demo" and parsed[0]["action"] == "login"
    assert json.loads(parsed[0]["data"]) == {"user": "rip", "password": core.MASK}
    assert "hunter2" not in (state_dir / "audit.log").read_text()
    assert parsed[1]["agent"] == "rpcutil" and parsed[1]["data"] == "{}"


def test_sensitive_value_not_echoed_in_validation_error(runtime, state_dir):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "login", {"user": "rip", "password": "Bad Secret"})
    assert reply["status"] == "InvalidData"
    assert "Bad Secret" not in reply["message"]
    assert "Bad Secret" not in (state_dir / "audit.log").read_text()


def test_unknown_module_masks_every_value(runtime, state_dir):
    process = runtime()
    process.call("nosuch", "login", {"password": "hunter2"})
    assert "hunter2" not in (state_dir / "audit.log").read_text()


def test_audit_log_not_writable_refuses(runtime, state_dir, tmp_path):
    (state_dir / "audit.log").mkdir()  # a directory where the log should be: cannot append
    target = tmp_path / "touched"
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "touch", {"path": str(target)})
    assert reply["status"] == "Aborted" and "audit log" in reply["message"]
    assert not target.exists()


def test_exception_in_action_is_unknown_error(runtime):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "boom")
    # the module's file and line, never the runtime's traceback
    assert reply["status"] == "UnknownError"
    assert reply["message"] == "demo.py:36: ValueError: the disk is on fire"
    reply = process.call("demo", "refuse")
    assert reply["status"] == "Aborted" and reply["message"] == "not today"
    assert process.call("rpcutil", "ping")["status"] == "OK"


def test_timeout_is_enforced_on_the_host(runtime):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "slow", {"seconds": 5}, timeout=0.3)
    assert reply["status"] == "UnknownError" and "timed out" in reply["message"]
    assert process.call("demo", "slow", {"seconds": 0.01}, timeout=2)["status"] == "OK"


def test_action_output_does_not_corrupt_the_stream(runtime):
    process = runtime()
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "noisy")
    assert reply["status"] == "OK" and reply["data"] == {"status": "ok", "cat": ""}
    assert process.call("rpcutil", "ping")["status"] == "OK"


def test_module_hash_mismatch_and_broken_module(runtime):
    process = runtime()
    process.send({"kind": "module", "name": "demo", "hash": "0" * 64, "source": DEMO_MODULE})
    reply = process.call("demo", "boom")
    assert reply["status"] == "Aborted" and "hash" in reply["message"]
    process.send_module("broken", "AGENT = {\n")
    reply = process.call("broken", "x")
    assert reply["status"] == "Aborted" and "failed to load" in reply["message"]


def test_module_config_caller_and_host(runtime, state_dir, tmp_path):
    (state_dir / "callers").write_text("# operators\nssh-ed25519 AAAAkeyofrip rip\n")
    auth = tmp_path / "auth"
    auth.write_text("publickey ssh-ed25519 AAAAkeyofrip\n")
    process = runtime({"SSH_USER_AUTH": str(auth)})
    assert process.hello["caller"] == "rip"
    process.send_module("demo", DEMO_MODULE)
    reply = process.call("demo", "settings")
    assert reply["data"] == {"greeting": "hi", "host": "dev1", "caller": "rip"}
    assert " caller=rip " in audit_lines(state_dir)[0]


def test_unknown_key_falls_back_to_login_user(runtime, tmp_path):
    import os
    import pwd

    auth = tmp_path / "auth"
    auth.write_text("publickey ssh-ed25519 AAAAunknown\n")
    process = runtime({"SSH_USER_AUTH": str(auth)})
    assert process.hello["caller"] == pwd.getpwuid(os.getuid()).pw_name


def test_bad_reqid_is_refused(runtime, state_dir):
    process = runtime()
    reply = process.call("rpcutil", "ping", reqid="not-hex\nreqid=forged")
    assert reply["status"] == "InvalidData"
    lines = audit_lines(state_dir)
    assert len(lines) == 1  # the newline did not forge a second line
    assert " result=refused reason=" in lines[0]


def test_lab_state_dir_from_ssh_connection(tmp_path):
    lab = tmp_path / "lab"
    (lab / "hosts" / "dev7").mkdir(parents=True)
    (lab / "addr").mkdir()
    (lab / "addr" / "127.0.1.9").symlink_to(lab / "hosts" / "dev7")
    (lab / "hosts" / "dev7" / "host.json").write_text('{"name": "dev7"}')
    from runtime_harness import RuntimeProcess

    process = RuntimeProcess(tmp_path / "unused", {
        "ORCH_STATE_DIR": "", "ORCH_LAB_DIR": str(lab),
        "SSH_CONNECTION": "127.0.0.1 50000 127.0.1.9 2222"})
    try:
        assert process.hello["host"] == "dev7"
        assert process.call("rpcutil", "ping")["status"] == "OK"
        assert (lab / "hosts" / "dev7" / "audit.log").read_text().count("\n") == 2  # decision, status
    finally:
        assert process.close() == 0


def test_eof_ends_the_process_cleanly(runtime):
    process = runtime()
    process.process.stdin.close()
    assert process.process.wait(timeout=10) == 0


def test_broken_host_json_stops_with_one_clear_line(state_dir):
    import subprocess

    from orch.runtime import bootstrap

    (state_dir / "host.json").write_text("{not json")
    result = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c", bootstrap.COMMAND],
                            input=bootstrap.payload(), capture_output=True, timeout=30,
                            env={"ORCH_STATE_DIR": str(state_dir), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and result.stdout == b""
    last = result.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("orch runtime: cannot read ") and "host.json" in last


OLDEST_PYTHON = "/root/.pyenv/versions/3.6.15/bin/python3.6"


@pytest.mark.skipif(not os.path.exists(OLDEST_PYTHON), reason="no Python 3.6 on this machine")
def test_runtime_and_modules_run_on_python_36(state_dir, tmp_path):
    """Hosts may have Python 3.6: the runtime and every shipped module load and serve there."""
    from runtime_harness import REPO, RuntimeProcess

    process = RuntimeProcess(state_dir, python=OLDEST_PYTHON)
    try:
        assert process.hello["python"].startswith("3.6.")
        assert process.hello["loaded_from"] == "source"  # the controller's bytecode is 3.11's
        assert process.call("rpcutil", "ping")["status"] == "OK"
        assert process.call("rpcutil", "get_fact", {"fact": "os.family"})["data"]["value"] == "debian"
        assert process.call("rpcutil", "get_fact", {})["status"] == "MissingData"
        for path in sorted((REPO / "modules").glob("*.py")):
            process.send_module(path.stem)
            # An unknown action proves the module loaded (a load failure would be Aborted).
            assert process.call(path.stem, "no_such_action")["status"] == "UnknownAction", path.name
        process.send_module("demo", DEMO_MODULE)
        assert process.call("demo", "slow", {"seconds": 5}, timeout=0.2)["status"] == "UnknownError"
        assert process.call("demo", "boom")["message"] == "demo.py:36: ValueError: the disk is on fire"
    finally:
        assert process.close() == 0
