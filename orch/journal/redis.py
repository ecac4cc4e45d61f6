"""The journal in Redis (``redis://host:port/db``), for several controllers sharing one history.

Per run: a hash with the run's summary, and a list of its events (as JSON, the same dicts the
JSON Lines output prints) appended as they arrive. Readers fold that list into the same
records the SQLite journal returns, so ``orch runs`` and ``--resume`` work on either.
"""

from __future__ import annotations

import json

from orch.errors import InputError, OrchError, Where
from orch.journal.locks import Holder, owner_alive, refuse, this_owner
from orch.journal.store import (
    DONE_STATUSES,
    RunRecord,
    StepRecord,
    host_mode,
    mode_counts,
    run_status,
)
from orch.output import events as ev

PREFIX = "orch:journal:"
LOCK_TTL = 6 * 3600  # a lock outlives no controller by more than this
KEPT = (ev.StepStarted, ev.HostReplied, ev.HostUnreachable, ev.HostSkipped, ev.StepDone,
        ev.StepFailed, ev.Announced)


class RedisJournal:
    def __init__(self, url: str, prefix: str = PREFIX):
        try:
            import redis
        except ImportError:
            raise InputError("a redis:// journal needs the 'redis' Python package",
                             Where(path="journal")) from None
        self.url, self.prefix = url, prefix
        self._errors = (redis.RedisError, OSError)
        try:
            self._client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                                decode_responses=True)
        except ValueError as error:
            raise InputError(f"bad Redis URL {url!r}: {error}", Where(path="journal")) from None
        self._run_id: str | None = None

    def _call(self, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except self._errors as error:
            raise OrchError(f"journal {self.url}: {error}") from None

    def close(self) -> None:
        self._client.close()

    # -- the sink ------------------------------------------------------------------------------
    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.RunStarted):
            self._run_id = event.run_id
            pipe = self._client.pipeline(transaction=True)
            pipe.zadd(self.prefix + "runs", {event.run_id: event.at})
            pipe.hset(self.prefix + "run:" + event.run_id, mapping={
                "name": event.name, "kind": event.kind, "caller": event.caller,
                "inputs": json.dumps(event.inputs, default=str),
                "resumed_from": event.resumed_from or "", "started": repr(event.at),
                "status": "running", "message": "", "owner": this_owner()})
            self._call(pipe.execute)
        elif self._run_id is None:
            return
        elif isinstance(event, ev.RunDone):
            self._call(self._client.hset, self.prefix + "run:" + self._run_id, mapping={
                "finished": repr(event.at),
                "status": event.status or ("ok" if event.ok else "failed"),
                "message": event.message, "failed": json.dumps(event.failed),
                "unreachable": json.dumps(event.unreachable)})
        elif isinstance(event, KEPT):
            self._call(self._client.rpush, self.prefix + "events:" + self._run_id,
                       json.dumps(event.to_dict(), default=str))

    def lock(self, run_id: str, hosts: list[str], owner: str | None = None) -> None:
        """Lock ``hosts`` for ``run_id`` (``SET NX`` per host, all or none)."""
        owner = owner or this_owner()
        value = json.dumps({"run_id": run_id, "owner": owner})
        taken, holders = [], []
        for host in hosts:
            key = self.prefix + "lock:" + host
            for _ in range(2):
                if self._call(self._client.set, key, value, nx=True, ex=LOCK_TTL):
                    taken.append(key)
                    break
                current = self._call(self._client.get, key)
                if current is None:
                    continue  # released in between: try again
                holder = json.loads(current)
                if holder["run_id"] == run_id:
                    break
                if owner_alive(holder["owner"]):
                    holders.append(Holder(host, holder["run_id"], holder["owner"]))
                    break
                self._call(self._client.delete, key)  # stale: its controller is gone
        if holders:
            if taken:
                self._call(self._client.delete, *taken)
            raise refuse(holders)
        if hosts:
            self._call(self._client.sadd, self.prefix + "locks:" + run_id, *hosts)

    def unlock(self, run_id: str) -> None:
        members = self._call(self._client.smembers, self.prefix + "locks:" + run_id)
        for host in members:
            key = self.prefix + "lock:" + host
            current = self._call(self._client.get, key)
            if current is not None and json.loads(current)["run_id"] == run_id:
                self._call(self._client.delete, key)
        self._call(self._client.delete, self.prefix + "locks:" + run_id)

    def annotate(self, run_id: str, play_hash: str = "") -> None:
        self._call(self._client.hset, self.prefix + "run:" + run_id, "play_hash", play_hash)

    def unfinished(self, run_id: str) -> list[tuple[str, list[str]]]:
        return [(step.step, step.pending) for step in self.steps(run_id)
                if step.pending or not step.finished]

    def mark(self, run_id: str, status: str) -> None:
        key = self.prefix + "run:" + run_id
        if self._call(self._client.hget, key, "status") == "running":
            self._call(self._client.hset, key, "status", status)

    # -- readers -------------------------------------------------------------------------------
    def _events(self, run_id: str) -> list[dict]:
        return [json.loads(item) for item in
                self._call(self._client.lrange, self.prefix + "events:" + run_id, 0, -1)]

    def runs(self, limit: int = 50) -> list[RunRecord]:
        ids = self._call(self._client.zrevrange, self.prefix + "runs", 0, max(limit, 1) - 1)
        return [record for run_id in ids if (record := self.run(run_id)) is not None]

    def run(self, run_id: str) -> RunRecord | None:
        row = self._call(self._client.hgetall, self.prefix + "run:" + run_id)
        if not row:
            return None
        failed = json.loads(row.get("failed") or "{}")
        unreachable = json.loads(row.get("unreachable") or "{}")
        events = self._events(run_id)
        hosts = {event["host"] for event in events
                 if event["type"] in ("HostReplied", "HostUnreachable", "HostSkipped")
                 and event.get("final", True)}
        modes = {event["host"]: host_mode(event.get("mode", ""), event.get("message", ""))
                 for event in events if event["type"] == "HostReplied"}
        bad = set(failed) | set(unreachable)
        return RunRecord(
            run_id=run_id, name=row.get("name", ""), kind=row.get("kind", ""),
            caller=row.get("caller", ""), inputs=json.loads(row.get("inputs") or "{}"),
            resumed_from=row.get("resumed_from") or None, started=float(row.get("started", 0)),
            finished=float(row["finished"]) if row.get("finished") else None,
            status=run_status(row.get("status", ""), row.get("owner", ""),
                              float(row.get("started", 0)) or None),
            message=row.get("message", ""),
            hosts_ok=len(hosts - bad), hosts_failed=len(bad), failed=failed,
            unreachable=unreachable, owner=row.get("owner", ""),
            play_hash=row.get("play_hash", ""), modes=mode_counts(modes))

    def steps(self, run_id: str) -> list[StepRecord]:
        steps: dict[str, StepRecord] = {}
        hosts: dict[str, dict[str, dict]] = {}
        for event in self._events(run_id):
            kind, step = event["type"], event.get("step")
            if kind == "StepStarted":
                steps[step] = StepRecord(step, event["module"], event["action"], 0, 0, 0, False, "", [],
                                         finished=False, pending=list(event.get("hosts") or []))
            elif kind in ("HostReplied", "HostUnreachable", "HostSkipped"):
                status = ("Unreachable" if kind == "HostUnreachable"
                          else event.get("status") or "Skipped")
                entry = hosts.setdefault(step, {}).setdefault(
                    event["host"], {"host": event["host"], "attempts": 0, "mode": ""})
                entry["mode"] = host_mode(event.get("mode", ""),
                                          event.get("message", "")) or entry["mode"]
                if kind != "HostSkipped":
                    entry["attempts"] = max(entry["attempts"], event["attempt"])
                if event.get("final", True) or "status" not in entry:
                    entry["final"] = event.get("final", True)
                    entry.update(status=status,
                                 message=event.get("message") or event.get("reason") or "",
                                 data=event.get("data") or {}, elapsed=event.get("elapsed", 0.0))
                steps.setdefault(step, StepRecord(step, "", "", 0, 0, 0, False, "", []))
            elif kind == "StepDone" and step in steps:
                record = steps[step]
                record.finished = True
                record.okcount, record.failcount = event["okcount"], event["failcount"]
                record.unreachable = event["unreachable"]
            elif kind == "StepFailed" and step in steps:
                steps[step].failed, steps[step].reason = True, event["reason"]
        for step, record in steps.items():
            record.hosts = list(hosts.get(step, {}).values())
            settled = {entry["host"] for entry in record.hosts
                       if entry.get("status") not in (None, "NotRun") and entry.get("final")}
            record.pending = [name for name in record.pending if name not in settled] + [
                entry["host"] for entry in record.hosts if entry.get("status") == "NotRun"
                and entry["host"] not in record.pending]
        return list(steps.values())

    def notes(self, run_id: str) -> list[tuple[str, str]]:
        names = {"Announced": "announce", "StepFailed": "step failed"}
        return [(names[e["type"]], e.get("text") or f"{e['step']}: {e['reason']}")
                for e in self._events(run_id) if e["type"] in names]

    def succeeded(self, run_id: str) -> set[tuple[str, str]]:
        done = set()
        for event in self._events(run_id):
            if (event["type"] == "HostSkipped" and event.get("status", "Skipped") == "Skipped") or (
                    event["type"] == "HostReplied" and event.get("final")
                    and event["status"] in DONE_STATUSES):
                done.add((event["step"], event["host"]))
        return done
