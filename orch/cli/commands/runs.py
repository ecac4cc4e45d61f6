"""`orch runs`: the journal of past runs, and one run's per-step per-host results."""

from __future__ import annotations

HELP = "the journal: past runs, and per-step per-host results of one run"
DESCRIPTION = """\
  orch runs            the latest runs: id, when, play, status, hosts ok/failed, and the
                       hosts' trust modes from their hellos (restricted 3, open 2)
  orch runs RUN_ID     one run: its inputs, then every step with each host's result and mode
Add --json for machine-readable output."""


def configure(parser) -> None:
    parser.add_argument("run_id", nargs="?", metavar="RUN_ID", help="show this run in detail")
    parser.add_argument("-n", "--last", type=int, default=20, metavar="N", help="list N runs (default 20)")
    parser.add_argument("--json", action="store_true", help="JSON output")


def run(args, env) -> int:
    import json
    from dataclasses import asdict

    from orch.config import load_config
    from orch.errors import ExitStatus, InputError, Where
    from orch.journal import open_journal

    config = load_config({}, env.environ, env.cwd)
    journal = open_journal(config.journal)
    out = env.stdout
    try:
        if not args.run_id:
            records = journal.runs(limit=max(args.last, 1))
            if args.json:
                out.write(json.dumps([asdict(record) for record in records], default=str) + "\n")
                return ExitStatus.OK
            if not records:
                out.write("no runs in the journal yet\n")
                return ExitStatus.OK
            out.write(f"{'RUN ID':<24}{'STARTED':<21}{'PLAY':<32}{'STATUS':<9}{'OK':>4}{'FAILED':>8}"
                      f"  MODES\n")
            for record in records:
                resumed = f"  (resumes {record.resumed_from})" if record.resumed_from else ""
                out.write(f"{record.run_id:<24}{_when(record.started):<21}{record.name[:31]:<32}"
                          f"{record.status:<9}{record.hosts_ok:>4}{record.hosts_failed:>8}"
                          f"  {_modes(record.modes)}{resumed}\n")
            return ExitStatus.OK
        record = journal.run(args.run_id)
        if record is None:
            raise InputError(f"no run {args.run_id!r} in the journal", Where(path="RUN_ID"))
        steps = journal.steps(args.run_id)
        if args.json:
            out.write(json.dumps({"run": asdict(record), "steps": [asdict(s) for s in steps]},
                                 default=str) + "\n")
            return ExitStatus.OK
        out.write(f"run {record.run_id}: {record.name} ({record.kind}) by {record.caller}\n")
        out.write(f"  started {_when(record.started)}, status {record.status}, "
                  f"hosts ok {record.hosts_ok}, failed {record.hosts_failed}, "
                  f"modes {_modes(record.modes)}\n")
        if record.resumed_from:
            out.write(f"  resumes run {record.resumed_from}\n")
        if record.inputs:
            out.write("  inputs: " + " ".join(f"{k}={v}" for k, v in record.inputs.items()) + "\n")
        if record.message:
            out.write(f"  {record.message}\n")
        if record.status in ("abandoned", "interrupted", "running"):
            unfinished = journal.unfinished(args.run_id)
            if record.status == "abandoned":
                out.write(f"  abandoned: its controller ({record.owner or 'unknown'}) is gone; "
                          f"finish it with: orch play PLAY --resume {record.run_id}\n")
            for step, hosts in unfinished:
                out.write(f"  unfinished: {step} on {', '.join(hosts) or 'its hosts'}\n")
        for step in steps:
            title = f"{step.module}#{step.action}" if step.module else ""
            state = _state(step)
            out.write(f"\n{step.step} {title} [{state} okcount={step.okcount} "
                      f"failcount={step.failcount} unreachable={step.unreachable}]\n")
            if step.failed and step.reason:
                out.write(f"  reason: {step.reason}\n")
            for host in sorted(step.hosts, key=lambda entry: _natural(entry["host"])):
                tries = f" attempts={host['attempts']}" if host.get("attempts", 0) > 1 else ""
                message = f" {host['message']}" if host.get("message") and host["status"] != "OK" else ""
                mode = f"{host.get('mode') or '?':<11}"
                out.write(f"  {host['host']:<20} {mode}{host['status']}{tries}{message}\n")
        return ExitStatus.OK
    finally:
        journal.close()


def _modes(modes: dict) -> str:
    """``restricted 3, open 2`` (hosts by the mode their hello said; ``-`` when none said)."""
    return ", ".join(f"{mode} {count}" for mode, count in modes.items()) or "-"


def _state(step) -> str:
    """The label of a step: it failed, or some hosts were unreachable or failed (a step that
    tolerated them, fail_ok or max_fail), or it never finished, or ok."""
    if step.failed:
        return "FAILED"
    if not step.finished:
        return "UNFINISHED"
    if step.unreachable and step.failcount:
        return "failed+unreachable"
    if step.unreachable:
        return "unreachable"
    if step.failcount:
        return "some failed"
    return "ok"


def _when(epoch: float | None) -> str:
    import time

    if not epoch:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _natural(name: str) -> list:
    """dev2 before dev10."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
