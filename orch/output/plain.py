"""Plain text for pipes and logs: the same lines as the console, no control codes."""

from __future__ import annotations

from typing import TextIO

from orch.output import events as ev
from orch.output import text


class PlainRenderer:
    def __init__(self, stream: TextIO, verbose: bool = False):
        self.stream = stream
        self.verbose = verbose

    def _write(self, lines) -> None:
        if isinstance(lines, str):
            lines = [lines]
        self.stream.write("".join(line + "\n" for line in lines))
        self.stream.flush()

    def __call__(self, event: ev.Event) -> None:
        lines = render(event, self.verbose)
        if lines:
            self._write(lines)


def render(event: ev.Event, verbose: bool) -> list[str]:
    """The lines one event prints; empty when it prints nothing at this verbosity."""
    if isinstance(event, ev.Announced):
        return text.banner(event.text)
    if isinstance(event, ev.StepStarted):
        return [text.step_started(event)]
    if isinstance(event, ev.BatchStarted):
        return [text.batch_started(event)] if verbose else []
    if isinstance(event, ev.HostReplied):
        return [text.host_replied(event)] if verbose or event.status != "OK" else []
    if isinstance(event, ev.HostUnreachable):
        return [text.host_unreachable(event)]
    if isinstance(event, ev.HostSkipped):
        return [f"skipping {event.host}: {event.reason}"]
    if isinstance(event, ev.StepDone):
        lines = [text.step_done(event)]
        if event.failed and event.reason:
            lines.append(f"step failed: {event.reason}")
        return lines
    if isinstance(event, ev.Summarized):
        return text.summarized(event)
    if isinstance(event, ev.RepliesGrouped):
        return text.replies_grouped(event)
    if isinstance(event, ev.StepFailed):
        return [f"step {event.step} failed: {event.reason}"]
    if isinstance(event, ev.Warned):
        return [f"warning: {event.text}"]
    if isinstance(event, ev.RunDone):
        return text.run_done(event)
    return []
