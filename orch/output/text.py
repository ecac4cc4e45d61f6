"""The words of orch's output, shared by the plain and rich renderers (the seed's shapes)."""

from __future__ import annotations

from orch.output import events as ev

BANNER_WIDTH = 80
#: The reply key holding a unified diff (file.write), shown with --diff only.
DIFF_KEY = "diff"


def banner(text: str) -> list[str]:
    rule = "=" * BANNER_WIDTH
    return ["", rule, f">>>> {text}", rule, ""]


def step_started(event: ev.StepStarted) -> str:
    line = f"calling {event.module}#{event.action} for {len(event.hosts)} node(s)"
    if event.batch_size:
        line += f" in batches of {event.batch_size}"
    return line


def batch_started(event: ev.BatchStarted) -> str:
    return f"batch {event.index}/{event.count}: {', '.join(event.hosts)}"


def host_replied(event: ev.HostReplied) -> str:
    line = f"processing result from {event.host} [{event.status}]"
    if event.status != "OK" and event.message:
        line += f" {event.message}"
    if not event.final:
        line += f" (attempt {event.attempt}, will retry)"
    return line


def host_skipped(event: ev.HostSkipped) -> str:
    """``skipping dev4: succeeded in run …`` (--resume); ``dev4: skipped (no check mode)``
    for an action a dry run does not send."""
    if event.status == "NotRun":
        return f"{event.host}: skipped ({event.reason})"
    return f"skipping {event.host}: {event.reason}"


def without_diff(data):
    """A reply's data without its diff (shown apart, and only with --diff)."""
    if isinstance(data, dict) and DIFF_KEY in data:
        return {key: value for key, value in data.items() if key != DIFF_KEY}
    return data


def diff_block(host: str, diff: str) -> list[str]:
    """A unified diff from one host, headed by the host's name, as plain lines."""
    return [f"diff from {host}:"] + diff.rstrip("\n").split("\n") + [""]


def host_unreachable(event: ev.HostUnreachable) -> str:
    line = f"processing result from {event.host} [Unreachable] {event.reason}"
    if not event.final:
        line += f" (attempt {event.attempt}, will retry)"
    return line


def step_done(event: ev.StepDone) -> str:
    line = (f"done {event.module}#{event.action} [discovered={event.discovered} "
            f"responses={event.responses} failcount={event.failcount} okcount={event.okcount} "
            f"totaltime={event.totaltime:.2f} batch={event.batch}]")
    if event.changed:
        line += f" changed={event.changed}"
    if event.unreachable:
        line += f" unreachable={event.unreachable}"
    if event.skipped:
        line += f" skipped={event.skipped}"
    return line


def summarized(event: ev.Summarized) -> list[str]:
    lines = ["", f"{event.title}:", ""]
    width = max((len(str(label)) for label, _ in event.lines), default=0)
    lines += [f"   {str(label).rjust(width)}: {value}" for label, value in event.lines]
    lines.append("")
    return lines


def data_lines(data: dict, names: dict | None = None) -> list[str]:
    """A reply's data, one ``Display Name: value`` line each, aligned."""
    names = names or {}
    labels = {key: str(names.get(key, key)) for key in data}
    width = max((len(label) for label in labels.values()), default=0)
    return [f"   {labels[key].rjust(width)}: {value}" for key, value in data.items()]


def replies_grouped(hosts: list, data: dict, names: dict | None = None, limit: int = 6) -> list[str]:
    label = ", ".join(hosts[:limit]) + (f", … {len(hosts) - limit} more" if len(hosts) > limit else "")
    if len(hosts) > 1:
        label += f" ({len(hosts)} hosts)"
    return [f"{label}:"] + data_lines(data, names) + [""]


def run_done(event: ev.RunDone) -> list[str]:
    lines: list[str] = []
    if event.failed:
        lines.append(f"Failed hosts ({len(event.failed)}):")
        lines += [f"   {host}: {reason}" for host, reason in sorted(event.failed.items())]
    if event.unreachable:
        lines.append(f"Unreachable hosts ({len(event.unreachable)}):")
        lines += [f"   {host}: {reason}" for host, reason in sorted(event.unreachable.items())]
    if event.message:
        lines.append(event.message)
    if event.recap and (len(event.recap) > 1 or event.failed or event.unreachable):
        lines += recap(event.recap)
    return lines


def recap(counts: dict) -> list[str]:
    """Ansible's recap, grouped: hosts with the same counts share one line."""
    groups: dict[tuple, list[str]] = {}
    keys = ("ok", "changed", "failed", "unreachable", "skipped")
    for host, per_host in sorted(counts.items()):
        groups.setdefault(tuple(per_host.get(key, 0) for key in keys), []).append(host)
    lines = ["", "Recap:"]
    for values, hosts in sorted(groups.items(), key=lambda item: (-item[0][2], -item[0][3])):
        shown = ", ".join(hosts[:6]) + (f", … {len(hosts) - 6} more" if len(hosts) > 6 else "")
        fields = " ".join(f"{key}={value}" for key, value in zip(keys, values, strict=True))
        lines.append(f"   {fields}  ({len(hosts)} host{'s' if len(hosts) > 1 else ''}: {shown})")
    return lines


def is_failure(event) -> bool:
    return (isinstance(event, ev.HostReplied) and event.status != "OK") or isinstance(
        event, ev.HostUnreachable)
