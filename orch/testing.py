"""Test a module's actions in-process, through the same request path a host runs.

``ModuleHost`` is one host's runtime (``orch/runtime/core.py``'s ``Runtime``, the very code
pushed to hosts) living in your test process, with its own state folder, ``host.json`` and
audit log. ``call`` sends the module (and the helpers it ``requires``) as module frames, then a
request frame, and returns the reply: the audit line is written with sensitive inputs masked,
the arguments are validated on both sides (the controller's ``prepare_args``, then the host's
``validate_args``), the action's timeout applies, outputs' defaults fill the reply, and check
mode comes from the request as over SSH. Only the SSH hop is missing. Example (pytest)::

    from orch.testing import ModuleHost

    def test_greet(tmp_path):
        host = ModuleHost(tmp_path / "host", modules=["mymodules/greeter.py"])
        reply = host.call("greeter", "greet", {"name": "ada"})
        assert reply.status == "OK" and reply.data["greeting"] == "hello ada"
        assert host.call("greeter", "greet", {"name": "ada"}, check=True).changed is False

``modules`` are file paths, or names found the way ``orch`` finds them (``module_paths``,
shipped modules, the ``orch.modules`` entry points). Arguments may be typed text as on a
command line (``{"count": "3"}``) unless ``coerce=False``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orch.agents import authoring
from orch.agents.registry import AgentSpec, Registry, find_modules, load_registry, read_agent
from orch.runtime import core

__all__ = ["ModuleHost", "Reply", "TestHost"]


@dataclass(frozen=True)
class Reply:
    """A reply frame: status (OK, Aborted, InvalidData, ...), message, data, changed."""

    status: str
    message: str
    data: dict
    changed: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass
class TestHost:
    """What templates of controller-side inputs see of the host: name, facts, vars."""

    name: str = "testhost"
    facts: dict = field(default_factory=dict)
    vars: dict = field(default_factory=dict)

    __test__ = False  # not a pytest test class


class ModuleHost:
    """One host's real runtime, in this process (see the module docstring)."""

    __test__ = False

    def __init__(self, state_dir: Path | str, modules: Iterable[str | Path] = (), *,
                 name: str = "testhost", facts: Mapping | None = None,
                 config: Mapping | None = None, classes: Iterable[str] = (),
                 caller: str = "tester", host_vars: Mapping | None = None,
                 registry: Registry | None = None):
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._document = {"name": name, "facts": dict(facts or {}), "classes": list(classes),
                          "agents": [], "config": dict(config or {})}
        self._write_host()
        audit = core.AuditLog(str(self.state_dir / "audit.log"))
        audit.open()
        self.runtime = core.Runtime(str(self.state_dir), core.read_host(str(self.state_dir)),
                                    caller, audit)
        self.caller = caller
        self.inventory_host = TestHost(name, dict(facts or {}), dict(host_vars or {}))
        self._registry = registry
        self._specs: dict[str, AgentSpec] = {}
        for module in modules:
            self.add(module)
        authoring.install_runtime_alias()

    def _write_host(self) -> None:
        (self.state_dir / "host.json").write_text(json.dumps(self._document))

    def configure(self, config: Mapping) -> None:
        """Replace host.json's per-module ``config`` (e.g. ``{"haproxy": {"socket": ...}}``)."""
        self._document["config"] = dict(config)
        self._write_host()
        self.runtime.host = core.read_host(str(self.state_dir))

    def add(self, module: str | Path) -> AgentSpec:
        """Read (and check) a module from a file path or by name; returns its spec."""
        text = str(module)
        if text.endswith(".py") or "/" in text:
            spec = read_agent(Path(text))
        else:
            registry = self._registry or load_registry(_Defaults())
            self._registry = registry
            spec = registry.get(text)
        self._specs[spec.name] = spec
        return spec

    def spec(self, module: str) -> AgentSpec:
        if module not in self._specs:
            self.add(module)
        return self._specs[module]

    def call(self, module: str, action: str, args: Mapping | None = None, *,
             check: bool = False, timeout: float = 0, coerce: bool = True,
             validate: bool = True) -> Reply:
        """Send one request and return the reply. ``validate=False`` skips the controller's
        check, to see what the host alone says of bad arguments."""
        spec = self.spec(module)
        args = dict(args or {})
        if validate:
            args = spec.prepare_args(action, args, coerce=coerce)
            if spec.resolves_per_host(action):
                args = spec.host_args(action, args, self.inventory_host)
        for wire_name, digest, source in spec.bundle():
            self.runtime.receive_module({"kind": core.KIND_MODULE, "name": wire_name,
                                         "hash": digest, "source": source.decode("utf-8")})
        error = self.runtime.module_errors.get(module)
        if error:
            raise AssertionError(error)
        message = core.request_frame(uuid.uuid4().hex, self.caller, module, action, args,
                                     timeout, check)
        reply = self.runtime.handle_request(message)
        reply = json.loads(json.dumps(reply))  # what crosses the wire is JSON
        return Reply(reply["status"], reply["message"], reply["data"], reply.get("changed"))

    def ok(self, module: str, action: str, args: Mapping | None = None, **options) -> dict:
        """``call`` that must answer OK; returns the reply's data."""
        reply = self.call(module, action, args, **options)
        assert reply.ok, f"{module}.{action}: {reply.status}: {reply.message}"
        return reply.data

    def audit(self) -> list[str]:
        """The audit log's lines so far."""
        path = self.state_dir / "audit.log"
        return path.read_text().splitlines() if path.exists() else []


class _Defaults:
    """A config with no module_paths: shipped modules and entry points only."""

    module_paths: tuple = ()


def registry_for(folders: Iterable[Path | str]) -> Registry:
    """A registry over module folders only (no entry points), for tests of a collection."""
    return Registry(find_modules([Path(folder) for folder in folders]))
