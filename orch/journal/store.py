"""SQLite journal: one row per run, per step, and per host attempt, committed as events arrive.

Written as it happens so a run killed half way still tells ``--resume`` which (step, host)
pairs succeeded. WAL mode keeps a commit per event cheap. Sensitive inputs arrive already
masked in ``RunStarted``; the journal never sees a secret.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from orch.errors import InputError, Where
from orch.journal.locks import Holder, owner_alive, refuse, this_owner
from orch.output import events as ev

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, name TEXT, kind TEXT, caller TEXT, inputs TEXT,
    resumed_from TEXT, started REAL, finished REAL, status TEXT, message TEXT,
    elapsed REAL, failed TEXT, unreachable TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT, step TEXT, module TEXT, action TEXT, started REAL, finished REAL,
    discovered INTEGER, responses INTEGER, okcount INTEGER, failcount INTEGER,
    unreachable INTEGER, failed INTEGER DEFAULT 0, reason TEXT DEFAULT '', seq INTEGER,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT, step TEXT, host TEXT, attempt INTEGER, status TEXT, message TEXT,
    data TEXT, elapsed REAL, final INTEGER, at REAL
);
CREATE INDEX IF NOT EXISTS attempts_run ON attempts (run_id, step, host);
CREATE TABLE IF NOT EXISTS notes (run_id TEXT, kind TEXT, text TEXT, at REAL);
CREATE TABLE IF NOT EXISTS locks (host TEXT PRIMARY KEY, run_id TEXT, owner TEXT, at REAL);
"""

DONE_STATUSES = ("OK", "Skipped")
ATTEMPT_COLUMNS = ("run_id, step, host, attempt, status, message, data, elapsed, final, at, "
                   "caller, mode")
#: How a runtime refused by a restricted host's gate (no hello, so no mode) reads.
GATE_REFUSAL = "orch gate: "


def host_mode(mode: str, message: str) -> str:
    """open | restricted | '' (unknown): the hello's mode, else restricted when the gate spoke."""
    return mode or ("restricted" if GATE_REFUSAL in (message or "") else "")


def mode_counts(modes: dict) -> dict:
    """host -> mode  →  mode -> number of hosts (hosts of unknown mode left out)."""
    counts: dict = {}
    for mode in modes.values():
        if mode:
            counts[mode] = counts.get(mode, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (item[0] != "restricted", item[0])))


@dataclass
class RunRecord:
    """One run as ``orch runs`` lists it."""

    run_id: str
    name: str
    kind: str
    caller: str
    inputs: dict
    resumed_from: str | None
    started: float
    finished: float | None
    status: str  # running | ok | failed | interrupted | abandoned
    message: str
    hosts_ok: int = 0
    hosts_failed: int = 0
    failed: dict = field(default_factory=dict)
    unreachable: dict = field(default_factory=dict)
    owner: str = ""  # "machine:pid" of the controller that ran it
    play_hash: str = ""  # sha256 of the play file (plays only)
    modes: dict = field(default_factory=dict)  # open|restricted -> hosts (their hellos)


ABANDON_AFTER = 6 * 3600  # a run of another machine still "running" after this is abandoned


def run_status(status: str, owner: str, started: float | None, now: float | None = None) -> str:
    """The status ``orch runs`` shows: a run still marked running whose controller is gone
    (its process is dead on this machine, or it is older than the lock TTL) is ``abandoned``
    (a SIGKILL, a crash, a lost machine): it will never end by itself; resume it."""
    if status != "running":
        return status
    if owner and not owner_alive(owner):
        return "abandoned"
    if started and (now or time.time()) - started > ABANDON_AFTER:
        return "abandoned"
    return status


@dataclass
class StepRecord:
    step: str
    module: str
    action: str
    okcount: int
    failcount: int
    unreachable: int
    failed: bool
    reason: str
    hosts: list  # of dicts: host status message attempts elapsed data mode
    finished: bool = True  # StepDone arrived (False: the run stopped inside this step)
    pending: list = field(default_factory=list)  # hosts without a final result


def open_journal(url: str):
    """``sqlite:///path`` → Journal, ``redis://host:port/db`` → RedisJournal (shared)."""
    if url.startswith("sqlite:///"):
        return Journal(url[len("sqlite:///"):])
    if url.startswith(("redis://", "rediss://", "unix://")):
        from orch.journal.redis import RedisJournal

        return RedisJournal(url)
    raise InputError(f"unsupported journal URL {url!r} (expected sqlite:///path or "
                     "redis://host:port/db)", Where(path="journal"))


class Journal:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(attempts)")}
            for column in ("caller", "mode"):  # journals written before these were kept
                if column not in columns:
                    self._db.execute(f"ALTER TABLE attempts ADD COLUMN {column} TEXT DEFAULT ''")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            for column in ("owner", "play_hash"):  # journals written before these were kept
                if column not in columns:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT DEFAULT ''")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(steps)")}
            if "hosts" not in columns:
                self._db.execute("ALTER TABLE steps ADD COLUMN hosts TEXT DEFAULT '[]'")
        except (OSError, sqlite3.Error) as error:
            raise InputError(f"cannot open the journal {str(self.path)!r}: {error}",
                             Where(path="journal")) from None
        self._lock = threading.Lock()
        self._run_id: str | None = None
        self._seq = 0

    def close(self) -> None:
        self._db.close()

    # -- the sink ------------------------------------------------------------------------------
    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self._record(event)
            self._db.commit()

    def _record(self, event: ev.Event) -> None:
        db = self._db
        if isinstance(event, ev.RunStarted):
            self._run_id = event.run_id
            db.execute("INSERT OR REPLACE INTO runs (run_id, name, kind, caller, inputs, resumed_from,"
                       " started, status, message, owner) VALUES (?,?,?,?,?,?,?, 'running', '', ?)",
                       (event.run_id, event.name, event.kind, event.caller,
                        json.dumps(event.inputs, default=str), event.resumed_from, event.at,
                        this_owner()))
            return
        run_id = self._run_id
        if run_id is None:
            return
        if isinstance(event, ev.StepStarted):
            self._seq += 1
            db.execute("INSERT OR REPLACE INTO steps (run_id, step, module, action, started, discovered,"
                       " seq, hosts) VALUES (?,?,?,?,?,?,?,?)",
                       (run_id, event.step, event.module, event.action, event.at, len(event.hosts),
                        self._seq, json.dumps(list(event.hosts))))
        elif isinstance(event, ev.HostReplied):
            db.execute(f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                       (run_id, event.step, event.host, event.attempt, event.status, event.message,
                        json.dumps(event.data, default=str), event.elapsed, int(event.final), event.at,
                        event.caller, host_mode(event.mode, event.message)))
        elif isinstance(event, ev.HostUnreachable):
            db.execute(f"INSERT INTO attempts ({ATTEMPT_COLUMNS[:-14]}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (run_id, event.step, event.host, event.attempt, "Unreachable", event.reason,
                        "{}", event.elapsed, int(event.final), event.at))
        elif isinstance(event, ev.HostSkipped):
            db.execute(f"INSERT INTO attempts ({ATTEMPT_COLUMNS[:-14]}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (run_id, event.step, event.host, 0, event.status, event.reason, "{}", 0.0, 1,
                        event.at))
        elif isinstance(event, ev.StepDone):
            updated = db.execute(
                "UPDATE steps SET finished=?, responses=?, okcount=?, failcount=?, unreachable=?"
                " WHERE run_id=? AND step=?",
                (event.at, event.responses, event.okcount, event.failcount, event.unreachable,
                 run_id, event.step))
            if updated.rowcount == 0:
                self._seq += 1
                db.execute("INSERT INTO steps VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'[]')",
                           (run_id, event.step, event.module, event.action, event.at, event.at,
                            event.discovered, event.responses, event.okcount, event.failcount,
                            event.unreachable, 0, "", self._seq))
        elif isinstance(event, ev.StepFailed):
            updated = db.execute("UPDATE steps SET failed=1, reason=? WHERE run_id=? AND step=?",
                                 (event.reason, run_id, event.step))
            db.execute("INSERT INTO notes VALUES (?,?,?,?)",
                       (run_id, "step failed", f"{event.step}: {event.reason}", event.at))
        elif isinstance(event, ev.Announced):
            db.execute("INSERT INTO notes VALUES (?,?,?,?)", (run_id, "announce", event.text, event.at))
        elif isinstance(event, ev.RunDone):
            db.execute("UPDATE runs SET finished=?, status=?, message=?, elapsed=?, failed=?,"
                       " unreachable=? WHERE run_id=?",
                       (event.at, event.status or ("ok" if event.ok else "failed"), event.message,
                        event.elapsed,
                        json.dumps(event.failed), json.dumps(event.unreachable), run_id))

    def lock(self, run_id: str, hosts: list[str], owner: str | None = None) -> None:
        """Lock ``hosts`` for ``run_id``, all or none; HostsLocked names who holds them."""
        owner = owner or this_owner()
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                holders = []
                for host in hosts:
                    row = db.execute("SELECT run_id, owner FROM locks WHERE host=?", (host,)).fetchone()
                    if row and row[0] != run_id and owner_alive(row[1]):
                        holders.append(Holder(host, row[0], row[1]))
                if holders:
                    raise refuse(holders)
                now = time.time()
                db.executemany("INSERT OR REPLACE INTO locks VALUES (?,?,?,?)",
                               [(host, run_id, owner, now) for host in hosts])
            except BaseException:
                db.rollback()
                raise
            db.commit()

    def unlock(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM locks WHERE run_id=?", (run_id,))
            self._db.commit()

    def annotate(self, run_id: str, play_hash: str = "") -> None:
        """Keep the play file's hash with the run (``--resume`` refuses a changed play)."""
        with self._lock:
            self._db.execute("UPDATE runs SET play_hash=? WHERE run_id=?", (play_hash, run_id))
            self._db.commit()

    def mark(self, run_id: str, status: str) -> None:
        """Set a run's status when it ended without RunDone (``interrupted``)."""
        with self._lock:
            self._db.execute("UPDATE runs SET status=? WHERE run_id=? AND status='running'",
                             (status, run_id))
            self._db.commit()

    # -- readers -------------------------------------------------------------------------------
    def runs(self, limit: int = 50) -> list[RunRecord]:
        """The latest runs, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id FROM runs ORDER BY started DESC, run_id DESC LIMIT ?",
                (limit,)).fetchall()
        return [record for (run_id,) in rows if (record := self.run(run_id)) is not None]

    def run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT run_id, name, kind, caller, inputs, resumed_from, started, finished, status,"
                " message, failed, unreachable, owner, play_hash FROM runs WHERE run_id=?",
                (run_id,)).fetchone()
            if row is None:
                return None
            hosts = self._db.execute(
                "SELECT DISTINCT host FROM attempts WHERE run_id=? AND final=1", (run_id,)).fetchall()
            modes = dict(self._db.execute(
                "SELECT host, mode FROM attempts WHERE run_id=? AND mode != '' ORDER BY rowid",
                (run_id,)).fetchall())
        failed = json.loads(row[10]) if row[10] else {}
        unreachable = json.loads(row[11]) if row[11] else {}
        bad = set(failed) | set(unreachable)
        return RunRecord(
            run_id=row[0], name=row[1], kind=row[2], caller=row[3], inputs=json.loads(row[4] or "{}"),
            resumed_from=row[5], started=row[6], finished=row[7],
            status=run_status(row[8], row[12] or "", row[6]),
            message=row[9] or "", hosts_ok=len({host for (host,) in hosts} - bad),
            hosts_failed=len(bad), failed=failed, unreachable=unreachable, owner=row[12] or "",
            play_hash=row[13] or "", modes=mode_counts(modes))

    def steps(self, run_id: str) -> list[StepRecord]:
        """Per-step, per-host results of one run, steps in the order they started."""
        with self._lock:
            steps = self._db.execute(
                "SELECT step, module, action, okcount, failcount, unreachable, failed, reason,"
                " finished, hosts FROM steps WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
            attempts = self._db.execute(
                "SELECT step, host, attempt, status, message, data, elapsed, final, mode"
                " FROM attempts WHERE run_id=? ORDER BY rowid", (run_id,)).fetchall()
        by_step: dict[str, dict[str, dict]] = {}
        finals: dict[str, set[str]] = {}
        for step, host, attempt, status, message, data, elapsed, final, mode in attempts:
            entry = by_step.setdefault(step, {}).setdefault(host, {"host": host, "attempts": 0,
                                                                   "mode": ""})
            entry["mode"] = mode or entry["mode"]
            if status != "Skipped":
                entry["attempts"] = max(entry["attempts"], attempt)
            if final and status != "NotRun":
                finals.setdefault(step, set()).add(host)
            if final or "status" not in entry:
                entry.update(status=status, message=message or "", data=json.loads(data or "{}"),
                             elapsed=elapsed)
        records = []
        seen = set()
        for (step, module, action, okcount, failcount, unreachable, failed, reason, finished,
             names) in steps:
            seen.add(step)
            done = finals.get(step, set())
            pending = [name for name in json.loads(names or "[]") if name not in done]
            pending += [entry["host"] for entry in by_step.get(step, {}).values()
                        if entry["host"] not in done and entry["host"] not in pending]
            records.append(StepRecord(step, module or "", action or "", okcount or 0, failcount or 0,
                                      unreachable or 0, bool(failed), reason or "",
                                      list(by_step.get(step, {}).values()),
                                      finished=finished is not None, pending=pending))
        for step, hosts in by_step.items():  # steps only skipped on resume have no StepStarted
            if step not in seen:
                records.append(StepRecord(step, "", "", 0, 0, 0, False, "", list(hosts.values())))
        return records

    def unfinished(self, run_id: str) -> list[tuple[str, list[str]]]:
        """Steps a run started and did not finish, each with its hosts that have no final
        result (or were cut off: NotRun), in the order the steps started."""
        return [(step.step, step.pending) for step in self.steps(run_id)
                if step.pending or not step.finished]

    def notes(self, run_id: str) -> list[tuple[str, str]]:
        with self._lock:
            return self._db.execute("SELECT kind, text FROM notes WHERE run_id=? ORDER BY rowid",
                                    (run_id,)).fetchall()

    def succeeded(self, run_id: str) -> set[tuple[str, str]]:
        """(step, host) pairs that ended OK (or were skipped as done) in ``run_id``: resume skips them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT step, host FROM attempts WHERE run_id=? AND final=1 AND status IN (?, ?)",
                (run_id, *DONE_STATUSES)).fetchall()
        return {(step, host) for step, host in rows}
