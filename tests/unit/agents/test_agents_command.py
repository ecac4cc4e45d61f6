"""`orch agents` through the real CLI entry, with captured streams."""

import io
import json

from orch.cli import main
from orch.cli.env import Environment


def run(argv, cwd):
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, stdin=io.StringIO(), environ={}, cwd=cwd)
    code = main(argv, env=env)
    return code, out.getvalue(), err.getvalue()


def test_lists_shipped_modules(tmp_path):
    code, out, err = run(["agents"], tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "DESCRIPTION"]
    rpcutil = next(line for line in lines if line.startswith("rpcutil "))
    assert rpcutil.split()[1] == "1.0" and "liveness" in rpcutil
    assert "\x1b" not in out


def test_documents_one_module(tmp_path):
    code, out, err = run(["agents", "rpcutil"], tmp_path)
    assert code == 0, err
    assert out.startswith("RPCUTIL MODULE\n==============\n")
    assert "   get_fact action:" in out and "   ping action:" in out
    block = out.split("get_fact action:")[1].split("inventory action:")[0]
    assert "fact:" in block and "Type: string" in block and "Required: yes" in block
    assert "Validation: ^[\\w.-]+$" in block and "Display As: Value" in block
    assert "summary(value)" in block


def test_sensitive_and_defaults_shown(tmp_path):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "vault.py").write_text('''
AGENT = {"name": "vault", "description": "Secrets", "version": "2.0", "actions": {
    "unlock": {"description": "Unlock it", "inputs": {
        "token": {"type": "string", "required": True, "sensitive": True},
        "tries": {"type": "integer", "default": 3}},
        "outputs": {"ok": {"display_as": "Unlocked"}},
        "aggregate": [{"function": "sum", "args": ["ok"], "format": "%d"}]}}}

def unlock(request):
    return {"ok": 1}
''')
    code, out, err = run(["agents", "vault", "-M", str(tmp_path / "mods")], tmp_path)
    assert code == 0, err
    assert "Sensitive: yes" in out and "Default: 3" in out and "sum(ok) (format %d)" in out
    code, out, err = run(["agents", "vault", "--json", "-M", str(tmp_path / "mods")], tmp_path)
    data = json.loads(out)
    assert data["declaration"]["actions"]["unlock"]["inputs"]["token"]["sensitive"] is True


def test_unknown_module_is_exit_2_one_line(tmp_path):
    code, out, err = run(["agents", "nosuch"], tmp_path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown module 'nosuch'" in err


def test_malformed_module_names_file_line_and_field(tmp_path):
    (tmp_path / "mods").mkdir()
    path = tmp_path / "mods" / "bad.py"
    path.write_text('AGENT = {\n    "name": "bad",\n    "description": "x",\n    "version": "1",\n'
                    '    "actions": {"go": {"inputs": {"n": {"type": "int"}}}},\n}\n'
                    'def go(request):\n    return {}\n')
    code, out, err = run(["agents", "bad", "-M", str(tmp_path / "mods")], tmp_path)
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert f"{path}:5: AGENT.actions.go.inputs.n.type" in err
