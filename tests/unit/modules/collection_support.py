"""The collection modules (command, service, package, file) called in-process through the real
runtime's request path, with the public ``orch.testing.ModuleHost`` (audit line with sensitive
inputs masked, host-side validation, the request's timeout, reply data over the declared
outputs' defaults, and check mode from the request frame's ``check_mode``).
"""

from __future__ import annotations

from pathlib import Path

from module_support import MODULES

from orch.testing import ModuleHost


class InProcessHost:
    """One host's runtime in this process; replies as the frames' dicts."""

    def __init__(self, state_dir: Path, config: dict | None = None):
        self.state_dir = state_dir
        self.host = ModuleHost(state_dir, name="dev1", config=config or {})
        self.runtime = self.host.runtime

    def configure(self, config: dict) -> None:
        self.host.configure(config)

    def call(self, module: str, action: str, args: dict, check: bool = False,
             timeout: float = 0) -> dict:
        """The reply (status, message, data) for one request; only the host validates."""
        self.host.spec(module) if module in self.host._specs else self.host.add(
            MODULES / f"{module}.py")
        reply = self.host.call(module, action, args, check=check, timeout=timeout,
                               validate=False)
        return {"status": reply.status, "message": reply.message, "data": reply.data,
                **({"changed": reply.changed} if reply.changed is not None else {})}

    def ok(self, module: str, action: str, args: dict, **options) -> dict:
        reply = self.call(module, action, args, **options)
        assert reply["status"] == "OK", reply
        return reply["data"]

    def audit(self) -> list[str]:
        return self.host.audit()
