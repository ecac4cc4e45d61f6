from pathlib import Path

from orch.testing import ModuleHost

MODULE = Path(__file__).resolve().parents[1] / "src" / "orch_greeter" / "greeter.py"


def test_greet_is_idempotent_and_honours_check_mode(tmp_path):
    host = ModuleHost(tmp_path / "host", [MODULE])
    dry = host.call("greeter", "greet", {"name": "ada"}, check=True)
    assert dry.ok and dry.changed is True and not (tmp_path / "host" / "greeting").exists()
    first = host.call("greeter", "greet", {"name": "ada"})
    assert first.ok and first.changed is True and first.data["greeting"] == "hello ada!"
    assert host.call("greeter", "greet", {"name": "ada"}).changed is False
    assert host.call("greeter", "greet", {"name": "Ada"}, validate=False).status == "InvalidData"
