import textwrap
from pathlib import Path

import pytest

from orch.agents import load_registry
from orch.agents.registry import SHIPPED_MODULES, read_agent
from orch.config import load_config
from orch.errors import InputError

GOOD = '''
AGENT = {
    "name": "demo",
    "description": "A demo",
    "version": "1.2",
    "timeout": 5,
    "actions": {
        "go": {
            "description": "Go somewhere",
            "inputs": {
                "where": {"type": "string", "required": True, "validation": "^[a-z]+$"},
                "speed": {"type": "integer", "default": 3},
            },
            "outputs": {"arrived": {"display_as": "Arrived"}},
            "aggregate": [{"function": "boolean_summary", "args": ["arrived"]}],
        },
    },
}


def go(request):
    return {"arrived": True}
'''


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return path


def config_for(tmp_path, *folders):
    cfg = tmp_path / "orch.cfg"
    cfg.write_text("[defaults]\nmodule_paths = " + ",".join(str(f) for f in folders) + "\n")
    return load_config({}, {}, tmp_path, tmp_path / "home")


def error_of(tmp_path, text: str, name: str = "demo") -> InputError:
    path = write(tmp_path, name, text)
    with pytest.raises(InputError) as caught:
        read_agent(path)
    assert caught.value.where.file == str(path)
    return caught.value


def test_good_module_spec(tmp_path):
    spec = read_agent(write(tmp_path, "demo", GOOD))
    assert spec.name == "demo" and spec.version == "1.2" and spec.timeout == 5
    assert spec.source == (tmp_path / "demo.py").read_bytes()
    import hashlib
    assert spec.hash == hashlib.sha256(spec.source).hexdigest()
    assert spec.prepare_args("go", {"where": "home"}) == {"where": "home", "speed": 3}
    assert spec.prepare_args("go", {"where": "home", "speed": "9"}) == {"where": "home", "speed": 9}


def test_prepare_args_errors_name_the_input(tmp_path):
    spec = read_agent(write(tmp_path, "demo", GOOD))
    with pytest.raises(InputError, match="missing required input 'where'"):
        spec.prepare_args("go", {})
    with pytest.raises(InputError, match="speed"):
        spec.prepare_args("go", {"where": "x", "speed": "fast"})
    with pytest.raises(InputError, match="does not match"):
        spec.prepare_args("go", {"where": "X1"})
    with pytest.raises(InputError, match="no action 'stop'.*known: go"):
        spec.prepare_args("stop", {})


def test_name_must_match_file(tmp_path):
    error = error_of(tmp_path, GOOD, name="other")
    assert error.where.path == "AGENT.name" and error.where.line == 3
    assert "does not match the file name 'other'" in str(error)


def test_typo_in_input_key_names_file_line_and_field(tmp_path):
    error = error_of(tmp_path, GOOD.replace('"required": True', '"requried": True'))
    assert error.where.path == "AGENT.actions.go.inputs.where.requried"
    assert error.where.line == 11
    assert "unknown key 'requried'" in str(error)


@pytest.mark.parametrize("change,field,message", [
    (('"type": "integer"', '"type": "int"'), "AGENT.actions.go.inputs.speed.type", "expected one of"),
    (('"^[a-z]+$"', '"^[a-z"'), "AGENT.actions.go.inputs.where.validation", "regular expression"),
    (('"default": 3', '"default": "three"'), "AGENT.actions.go.inputs.speed.default", "does not fit"),
    (('"boolean_summary"', '"median"'), "AGENT.actions.go.aggregate[0].function", "unknown aggregate"),
    (('"args": ["arrived"]', '"args": ["left"]'), "AGENT.actions.go.aggregate[0].args", "not a declared output"),
    (('"version": "1.2"', '"version": 1.2'), "AGENT.version", "version"),
    (('"timeout": 5', '"timeout": -1'), "AGENT.timeout", "positive"),
    (('"description": "A demo",', ''), "AGENT.description", "non-empty string"),
])
def test_malformed_declarations(tmp_path, change, field, message):
    error = error_of(tmp_path, GOOD.replace(*change))
    assert error.where.path == field
    assert message in error.message


def test_action_without_function(tmp_path):
    error = error_of(tmp_path, GOOD.replace("def go(", "def went("))
    assert error.where.path == "AGENT.actions.go" and "binds no function to it" in error.message


def test_syntax_error_and_exception_at_load(tmp_path):
    last = GOOD.count("\n") + 2  # the line appended after a blank line
    error = error_of(tmp_path, GOOD + "\ndef broken(:\n")
    assert error.where.line == last and "syntax error" in error.message
    error = error_of(tmp_path, GOOD + "\nraise RuntimeError('no')\n")
    assert error.where.line == last and "RuntimeError" in error.message
    error = error_of(tmp_path, "X = 1\n")
    assert "AGENT" in error.message


def test_every_shipped_module_is_well_formed():
    names = sorted(path.stem for path in SHIPPED_MODULES.glob("*.py"))
    assert "rpcutil" in names
    for name in names:
        spec = read_agent(SHIPPED_MODULES / f"{name}.py")
        assert spec.name == name


def test_module_paths_come_before_shipped_modules(tmp_path):
    custom = tmp_path / "mine"
    custom.mkdir()
    write(custom, "demo", GOOD)
    write(custom, "rpcutil", GOOD.replace('"name": "demo"', '"name": "rpcutil"'))
    write(custom, "_helper", "X = 1\n")
    registry = load_registry(config_for(tmp_path, custom, tmp_path / "missing"))
    assert "demo" in registry and "_helper" not in registry
    assert {"appmgr", "haproxy", "rpcutil"} <= set(registry.names())
    assert registry.get("rpcutil").path == str(custom / "rpcutil.py")
    assert registry.get("appmgr").path == str(SHIPPED_MODULES / "appmgr.py")
    with pytest.raises(InputError, match="unknown module 'nosuch'"):
        registry.get("nosuch")


def test_broken_module_fails_only_when_used(tmp_path):
    custom = tmp_path / "mine"
    custom.mkdir()
    write(custom, "bad", "AGENT = {}\n")
    registry = load_registry(config_for(tmp_path, custom))
    assert registry.get("rpcutil").name == "rpcutil"
    with pytest.raises(InputError):
        registry.get("bad")


def test_entry_point_modules(tmp_path, monkeypatch):
    site = tmp_path / "site"
    package = site / "acme_agents"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    write(package, "demo", GOOD)
    dist = site / "acme_agents-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-agents\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[orch.modules]\ndemo = acme_agents.demo\n")
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry(config_for(tmp_path))
    spec = registry.get("demo")
    assert spec.path == str(package / "demo.py") and spec.version == "1.2"


def test_entry_points_are_scanned_only_for_names_the_folders_lack(tmp_path, monkeypatch):
    """A broken plugin does not stop calls to modules found in the folders."""
    site = tmp_path / "site"
    dist = site / "broken_agents-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-agents\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[orch.modules]\nghost = no_such_package.ghost\n")
    monkeypatch.syspath_prepend(str(site))
    registry = load_registry(config_for(tmp_path))
    assert registry.get("rpcutil").name == "rpcutil"
    with pytest.raises(InputError, match="entry point orch.modules: ghost = no_such_package.ghost"):
        registry.get("ghost")
