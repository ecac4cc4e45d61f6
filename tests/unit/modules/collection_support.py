"""The collection modules (command, service, package, file) called in-process through the real
runtime's request path (orch/runtime/core.py ``Runtime.handle_request``): audit line with
sensitive inputs masked, host-side validation, the request's timeout, reply data over the
declared outputs' defaults, and check mode from the request frame's ``check_mode``.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from module_support import MODULES

from orch.runtime import core


class InProcessHost:
    """One host's runtime in this process, with its own state folder and audit log."""

    def __init__(self, state_dir: Path, config: dict | None = None):
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "host.json").write_text(json.dumps({
            "name": "dev1", "facts": {}, "classes": [], "agents": [],
            "config": config or {}}))
        audit = core.AuditLog(str(state_dir / "audit.log"))
        audit.open()
        self.runtime = core.Runtime(str(state_dir), core.read_host(str(state_dir)), "tester",
                                    audit)
        self.loaded: set[str] = set()

    def configure(self, config: dict) -> None:
        (self.state_dir / "host.json").write_text(json.dumps({"name": "dev1", "config": config}))
        self.runtime.host = core.read_host(str(self.state_dir))

    def call(self, module: str, action: str, args: dict, check: bool = False,
             timeout: float = 0) -> dict:
        """The reply frame (status, message, data) for one request."""
        if module not in self.loaded:
            source = (MODULES / f"{module}.py").read_text()
            self.runtime.receive_module({"kind": "module", "name": module,
                                         "hash": core.source_hash(source), "source": source})
            assert module not in self.runtime.module_errors, self.runtime.module_errors[module]
            self.loaded.add(module)
        message = {"kind": "request", "reqid": uuid.uuid4().hex, "caller": "tester",
                   "module": module, "action": action, "args": args, "timeout": timeout,
                   "check_mode": check}
        return self.runtime.handle_request(message)

    def ok(self, module: str, action: str, args: dict, **options) -> dict:
        reply = self.call(module, action, args, **options)
        assert reply["status"] == "OK", reply
        return reply["data"]

    def audit(self) -> list[str]:
        return (self.state_dir / "audit.log").read_text().splitlines()
