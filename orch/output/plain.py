"""Plain text for pipes and logs: the same lines as the console, no control codes."""

from __future__ import annotations

import json
from typing import TextIO

from orch.output import events as ev
from orch.output import text

GROUP_LIMIT = 20  # more distinct replies than this: the done line says enough


class Lines:
    """The lines each event prints, given what earlier events of the run said.

    It remembers the run's kind (a one-step ``call`` groups identical replies and leaves the
    failed hosts to the recap), each step's ``verbose`` and output names (``display_as``), so
    the renderers never ask the engine anything.
    """

    def __init__(self, verbose: bool = False, diff: bool = False):
        self.verbose = verbose
        #: ``--diff``: show the unified diff an OK reply carries in its ``diff`` (file.write).
        self.diff = diff
        self.kind = "play"
        self._steps: dict[str, ev.StepStarted] = {}
        self._replies: dict[str, list[tuple[str, dict]]] = {}

    def step_verbose(self, step: str) -> bool:
        started = self._steps.get(step)
        return self.verbose or bool(started and started.verbose)

    def __call__(self, event: ev.Event) -> list[str]:
        if isinstance(event, ev.RunStarted):
            self.kind = event.kind
            return ["check mode: nothing will be changed"] if event.check else []
        if isinstance(event, ev.Announced):
            return text.banner(event.text)
        if isinstance(event, ev.StepStarted):
            self._steps[event.step] = event
            self._replies[event.step] = []
            return [text.step_started(event)]
        if isinstance(event, ev.BatchStarted):
            return [text.batch_started(event)]
        if isinstance(event, ev.HostReplied):
            return self._replied(event)
        if isinstance(event, ev.HostUnreachable):
            return [text.host_unreachable(event)]
        if isinstance(event, ev.HostSkipped):
            return [text.host_skipped(event)]
        if isinstance(event, ev.StepDone):
            return [text.step_done(event)] + self._grouped(event.step)
        if isinstance(event, ev.Summarized):
            return text.summarized(event)
        if isinstance(event, ev.StepFailed):
            # A one-step call's failed hosts are in the recap; a play says which step stopped it.
            return [] if self.kind == "call" else [f"step {event.step} failed: {event.reason}"]
        if isinstance(event, ev.RunDone):
            return text.run_done(event)
        return []

    def _replied(self, event: ev.HostReplied) -> list[str]:
        started = self._steps.get(event.step)
        # A diff is shown only when asked for (--diff), as a diff, never among the values.
        diff = event.data.get(text.DIFF_KEY) if isinstance(event.data, dict) else None
        data = text.without_diff(event.data)
        shown_diff = (text.diff_block(event.host, diff)
                      if self.diff and event.status == "OK" and isinstance(diff, str) and diff
                      else [])
        if event.status == "OK" and event.final and self.kind == "call" and data \
                and not self.verbose:
            self._replies.setdefault(event.step, []).append((event.host, data))
        if not (self.step_verbose(event.step) or event.status != "OK"):
            return shown_diff
        lines = [text.host_replied(event)]
        if event.status == "OK" and data and self.step_verbose(event.step):
            names = started.display if started is not None else {}
            lines += text.data_lines(data, names)
        return lines + shown_diff

    def _grouped(self, step: str) -> list[str]:
        """Identical OK replies of a one-step call, each shown once with its hosts."""
        replies = self._replies.pop(step, [])
        if not replies:
            return []
        groups: dict[str, list[str]] = {}
        for host, data in sorted(replies):
            groups.setdefault(json.dumps(data, sort_keys=True, default=str), []).append(host)
        if len(groups) > GROUP_LIMIT:
            return []
        started = self._steps.get(step)
        names = started.display if started is not None else {}
        lines: list[str] = []
        for key, hosts in groups.items():
            lines += text.replies_grouped(hosts, json.loads(key), names)
        return lines


class PlainRenderer:
    def __init__(self, stream: TextIO, verbose: bool = False, diff: bool = False):
        self.stream = stream
        self.lines = Lines(verbose, diff)

    def _write(self, lines) -> None:
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def __call__(self, event: ev.Event) -> None:
        lines = self.lines(event)
        if lines:
            self._write(lines)
