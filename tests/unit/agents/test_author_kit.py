"""The module author's kit: orch_runtime's Abort/action/run/atomic_write, helpers sent by
hash, controller-side local files and templates, and orch.testing, on real files and
processes through the real runtime request path."""

from __future__ import annotations

import base64
import os
import textwrap
import time
from pathlib import Path

import pytest

from orch.agents.registry import read_agent
from orch.errors import InputError
from orch.runtime import core
from orch.testing import ModuleHost, TestHost

REPO = Path(__file__).resolve().parents[3]

KIT_MODULE = '''
import os
from orch_runtime import Abort, action, run, atomic_write
import orchutil_greeting

AGENT = {
    "name": "kit",
    "description": "exercises the author kit",
    "version": "1.0",
    "requires": ["orchutil_greeting"],
    "actions": {
        "greet": {"description": "greet", "check_mode": True,
                  "inputs": {"name": {"type": "string", "required": True,
                                      "validation": "^[a-z]+$", "maxlength": 20}},
                  "outputs": {"greeting": {"default": None}}},
        "echo": {"inputs": {"argv": {"type": "list", "required": True},
                            "timeout": {"type": "number", "optional": True}}},
        "put": {"inputs": {"path": {"type": "string", "required": True},
                           "text": {"type": "string", "required": True}}},
        "refuse": {"inputs": {}},
        "old_style": {"inputs": {}},
    },
}


@action("greet")
def say_hello(request):
    if request.check_mode:
        return {"greeting": None, "changed": False}
    return {"greeting": orchutil_greeting.greeting(request.args["name"]), "changed": True}


def _echo(request):
    result = run(request.args["argv"], stdin="from stdin", timeout=request.args.get("timeout"))
    return {"rc": result.rc, "stdout": result.stdout, "stderr": result.stderr}


@action
def put(request):
    atomic_write(request.args["path"], request.args["text"], mode=0o600)
    return {"changed": True}


def refuse(request):
    raise Abort("not today")


def old_style(request):
    request.abort("the old way")


ACTIONS = {"echo": _echo}
'''

HELPER = '''
def greeting(name):
    return "hello " + name
'''


@pytest.fixture
def kit(tmp_path) -> Path:
    folder = tmp_path / "collection"
    (folder / "module_utils").mkdir(parents=True)
    (folder / "kit.py").write_text(KIT_MODULE)
    (folder / "module_utils" / "orchutil_greeting.py").write_text(HELPER)
    return folder / "kit.py"


def test_bound_actions_helpers_and_abort(kit, tmp_path):
    host = ModuleHost(tmp_path / "state", [kit])
    reply = host.call("kit", "greet", {"name": "ada"})
    assert reply.ok and reply.data["greeting"] == "hello ada" and reply.changed is True
    dry = host.call("kit", "greet", {"name": "ada"}, check=True)
    assert dry.ok and dry.data["greeting"] is None and dry.changed is False
    assert host.call("kit", "refuse").status == "Aborted"
    assert host.call("kit", "refuse").message == "not today"
    old = host.call("kit", "old_style")
    assert (old.status, old.message) == ("Aborted", "the old way")
    bad = host.call("kit", "greet", {"name": "ADA"}, validate=False)
    assert bad.status == "InvalidData"  # the host validates on its own too
    assert any("action=greet" in line for line in host.audit())


def test_bundle_sends_helpers_first_by_hash(kit):
    spec = read_agent(kit)
    bundle = spec.bundle()
    assert [name for name, _, _ in bundle] == ["helper:orchutil_greeting", "kit"]
    assert bundle[0][1] == core.source_hash(HELPER)


def test_missing_helper_names_the_file(kit):
    (kit.parent / "module_utils" / "orchutil_greeting.py").unlink()
    with pytest.raises(InputError) as caught:
        read_agent(kit)
    assert "orchutil_greeting" in caught.value.message and str(kit) in str(caught.value)


def test_run_never_uses_a_shell_and_kills_on_timeout(kit, tmp_path):
    host = ModuleHost(tmp_path / "state", [kit])
    data = host.ok("kit", "echo", {"argv": ["/bin/echo", "$HOME; id"]}, coerce=False)
    assert data["stdout"] == "$HOME; id\n" and data["rc"] == 0
    data = host.ok("kit", "echo", {"argv": ["/bin/cat"]}, coerce=False)
    assert data["stdout"] == "from stdin"
    started = time.monotonic()
    reply = host.call("kit", "echo", {"argv": ["/bin/sleep", "30"], "timeout": 0.5},
                      coerce=False)
    assert reply.status == "Aborted" and "did not finish within 0.5s" in reply.message
    assert time.monotonic() - started < 10
    missing = host.call("kit", "echo", {"argv": ["/nonexistent/tool"]}, coerce=False)
    assert missing.status == "Aborted" and "cannot run /nonexistent/tool" in missing.message


def test_atomic_write_replaces_and_cleans_up(kit, tmp_path):
    host = ModuleHost(tmp_path / "state", [kit])
    target = tmp_path / "out.txt"
    target.write_text("old")
    inode = target.stat().st_ino
    host.ok("kit", "put", {"path": str(target), "text": "new"})
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o600
    assert target.stat().st_ino != inode  # renamed over, never rewritten in place
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".orch-tmp")] == []
    reply = host.call("kit", "put", {"path": str(tmp_path / "no" / "dir"), "text": "x"})
    assert reply.status == "UnknownError" and "kit.py:" in reply.message


def test_file_write_from_a_local_file_and_a_template(tmp_path):
    host = ModuleHost(tmp_path / "state", ["file"], name="dev1",
                      facts={"datacenter": "lab"}, host_vars={"motd_owner": "ops"})
    host.inventory_host = TestHost("dev1", {"datacenter": "lab"}, {"motd_owner": "ops"})
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"\x00binary\xff")
    target = tmp_path / "target"
    assert host.ok("file", "write", {"path": str(target), "src": str(plain)})["changed"]
    assert target.read_bytes() == b"\x00binary\xff"
    template = tmp_path / "motd.j2"
    template.write_text("{{ inventory_hostname }} in {{ facts.datacenter }}, ask {{ motd_owner }}\n")
    data = host.ok("file", "write", {"path": str(target), "src": str(template)})
    assert target.read_text() == "dev1 in lab, ask ops\n" and data["diff"] is None  # was binary
    template.write_text("{{ inventory_hostname }} v2\n")
    data = host.ok("file", "write", {"path": str(target), "src": str(template)}, check=True)
    assert "-dev1 in lab, ask ops" in data["diff"] and "+dev1 v2" in data["diff"]
    assert target.read_text() == "dev1 in lab, ask ops\n"  # check mode changed nothing
    hidden = host.ok("file", "write", {"path": str(target), "src": str(template),
                                       "sensitive": "true"}, check=True)
    assert hidden["diff"] is None


def test_local_file_limits_and_errors(tmp_path):
    host = ModuleHost(tmp_path / "state", ["file"])
    big = tmp_path / "big"
    big.write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(InputError, match="over this input's limit of 1048576 bytes"):
        host.call("file", "write", {"path": str(tmp_path / "t"), "src": str(big)})
    with pytest.raises(InputError, match="cannot read"):
        host.call("file", "write", {"path": str(tmp_path / "t"), "src": str(tmp_path / "none")})
    small = tmp_path / "small"
    small.write_text("x")
    with pytest.raises(InputError, match="not both"):
        host.call("file", "write", {"path": str(tmp_path / "t"), "src": str(small),
                                    "content_b64": base64.b64encode(b"y").decode()})
    broken = tmp_path / "broken.j2"
    broken.write_text("{{ nope }}")
    with pytest.raises(InputError, match="template error for testhost"):
        host.call("file", "write", {"path": str(tmp_path / "t"), "src": str(broken)})
    # The host enforces the limit on its own too, whatever a controller sends.
    oversized = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
    reply = host.call("file", "write", {"path": str(tmp_path / "t"), "content_b64": oversized},
                      validate=False)
    assert reply.status in ("Aborted", "InvalidData") and not (tmp_path / "t").exists()


def test_declaration_checks_controller_keys(tmp_path):
    source = textwrap.dedent('''
        AGENT = {"name": "bad", "description": "d", "version": "1", "actions": {"go": {
            "inputs": {"src": {"type": "string", "controller": "local_file", "into": "nope"}}}}}
        def go(request):
            return {}
    ''')
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(InputError, match="'nope', which is not a declared input"):
        read_agent(path)
    path.write_text(source.replace('"local_file"', '"remote"'))
    with pytest.raises(InputError, match="expected one of local_file, template"):
        read_agent(path)


def test_shipped_modules_still_bind_every_action():
    for name in ("file", "command", "service", "package", "appmgr", "haproxy"):
        spec = read_agent(REPO / "modules" / f"{name}.py")
        assert spec.declaration["actions"]
    assert os.path.exists(REPO / "modules" / "file.py")


def test_fetched_files_land_under_dest_host_path(tmp_path):
    import hashlib

    from orch.cli.commands.call import FETCH_MAX, save_fetched
    from orch.rpc.result import HostResult, StepResult

    def reply(host, data, status="OK"):
        return HostResult(host, status, "OK", data, 0.1, 1)

    content = b"dev1\n"
    result = StepResult("file", "fetch")
    result.results = {
        "dev1": reply("dev1", {"content_b64": base64.b64encode(content).decode(),
                               "sha256": hashlib.sha256(content).hexdigest()}),
        "dev2": reply("dev2", {"content_b64": base64.b64encode(b"x" * (FETCH_MAX + 1)).decode()}),
        "dev3": reply("dev3", {"content_b64": base64.b64encode(b"x").decode(), "sha256": "00"}),
        "dev4": reply("dev4", {}, status="Aborted"),
    }
    lines = save_fetched(result, tmp_path / "got", "/etc/hostname")
    assert (tmp_path / "got" / "dev1" / "etc" / "hostname").read_bytes() == content
    assert not (tmp_path / "got" / "dev2").exists() and not (tmp_path / "got" / "dev3").exists()
    assert any("dev2: 1048577 bytes, over the limit" in line for line in lines)
    assert any("dev3: content does not match" in line for line in lines)
    assert save_fetched(result, tmp_path / "got", "/../..") != []
    assert not (tmp_path / "etc").exists()


def test_a_template_cannot_build_a_huge_value(tmp_path):
    host = ModuleHost(tmp_path / "state", ["file"])
    bomb = tmp_path / "bomb.j2"
    bomb.write_text("{{ 'x' * 1000000000 }}")
    with pytest.raises(InputError, match="repetition too large"):
        host.call("file", "write", {"path": str(tmp_path / "t"), "src": str(bomb)})
