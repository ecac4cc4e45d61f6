"""A fake runner and registry for the play engine's narrow unit tests (the e2e tests use the lab)."""

from __future__ import annotations

import runpy
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from orch.output import events as ev

REPO = Path(__file__).resolve().parents[3]


class ModulesRegistry:
    """The shipped modules' declarations, read from modules/*.py (names() and get())."""

    def __init__(self, folder: Path = REPO / "modules"):
        self._specs = {}
        for path in sorted(folder.glob("*.py")):
            agent = runpy.run_path(str(path))["AGENT"]
            self._specs[agent["name"]] = SimpleNamespace(name=agent["name"], declaration=agent)

    def names(self):
        return list(self._specs)

    def get(self, name):
        return self._specs[name]


@dataclass
class Host:
    name: str
    facts: dict = field(default_factory=dict)
    classes: set = field(default_factory=set)
    agents: set = field(default_factory=set)


def lab_hosts() -> list[Host]:
    hosts = [Host("lb1", classes={"haproxy"}, agents={"rpcutil", "haproxy"}),
             Host("notify1", agents={"rpcutil", "angelianotify"})]
    for i in range(1, 7):
        hosts.append(Host(f"dev{i}", facts={"cluster": "alfa" if i <= 3 else "bravo"},
                          agents={"rpcutil", "appmgr", "nrpe"}, classes={"web"}))
    return hosts


def fake_discover(hosts: list[Host]):
    """Selection by class, agent and ``k=v`` facts: enough for the engine's tests."""

    def discover(selection: dict) -> list[Host]:
        found = []
        for host in hosts:
            if any(c not in host.classes for c in selection["classes"]):
                continue
            if any(a not in host.agents for a in selection["agents"]):
                continue
            facts = [f.split("=", 1) for f in selection["facts"]]
            if any(str(host.facts.get(k)) != v for k, v in facts):
                continue
            if selection["identities"] and host.name not in selection["identities"]:
                continue
            found.append(host)
        return found

    return discover


@dataclass
class Reply:
    host: str
    status: str
    message: str
    data: dict
    elapsed: float = 0.01
    tries: int = 1


class FakeSession:
    """Same ``call`` signature as orch.rpc.RpcSession; replies come from ``behaviour``.

    ``behaviour(module, action, host, args, attempt) -> (status, message, data)``; default OK
    with ``{"revision": args.get("revision")}``-like data. Records every call.
    """

    def __init__(self, sink, behaviour=None):
        self.sink = sink
        self.behaviour = behaviour or (lambda module, action, host, args, attempt: ("OK", "", {}))
        self.calls: list[dict] = []

    async def call(self, step_id, hosts, module, action, args, options, *, hang_up=False):
        batch_size, tries = options.batch_size, options.tries
        try_sleep, summarize = options.try_sleep, options.summarize
        names = [h.name for h in hosts]
        self.calls.append(dict(step=step_id, hosts=names, module=module, action=action, args=args,
                               batch_size=batch_size, tries=tries, try_sleep=try_sleep,
                               summarize=summarize))
        self.sink(ev.StepStarted(step_id, module, action, names, batch_size))
        results = {}
        for host in names:
            for attempt in range(1, tries + 1):
                status, message, data = self.behaviour(module, action, host, args, attempt)
                final = status == "OK" or attempt == tries
                if status == "Unreachable":
                    self.sink(ev.HostUnreachable(step_id, host, message, 0.01, attempt, final))
                else:
                    self.sink(ev.HostReplied(step_id, host, status, message, data, 0.01, attempt, final))
                if final:
                    results[host] = Reply(host, status, message, data, tries=attempt)
                    break
        ok = sum(1 for r in results.values() if r.status == "OK")
        self.sink(ev.StepDone(step_id, module, action, len(names), len(names), ok, len(names) - ok,
                              0, 0.01, batch_size))
        if summarize:
            self.sink(ev.Summarized(step_id, "Summary of Revision", [["Revision 20", f"{ok} nodes"]]))
        return SimpleNamespace(results=results)


