"""A terminal: the plain lines, coloured, and a live board while a step runs."""

from __future__ import annotations

import time
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from orch.output import events as ev
from orch.output.plain import Lines

_STYLES = {"OK": "green", "Unreachable": "magenta"}


class _Board:
    """Counts for the step in flight: pending, running, ok, failed, unreachable, slowest."""

    def __init__(self, event: ev.StepStarted):
        self.label = f"{event.module}#{event.action}"
        self.total = len(event.hosts)
        self.running: dict[str, float] = {}
        self.ok = self.failed = self.unreachable = 0

    def started(self, host: str) -> None:
        self.running[host] = time.monotonic()

    def finished(self, host: str, outcome: str | None) -> None:
        self.running.pop(host, None)
        if outcome == "ok":
            self.ok += 1
        elif outcome == "failed":
            self.failed += 1
        elif outcome == "unreachable":
            self.unreachable += 1

    def render(self) -> Text:
        done = self.ok + self.failed + self.unreachable
        pending = max(self.total - done - len(self.running), 0)
        line = Text(f"{self.label}: ")
        line.append(f"pending {pending}  ")
        line.append(f"running {len(self.running)}  ", style="cyan")
        line.append(f"ok {self.ok}  ", style="green")
        line.append(f"failed {self.failed}  ", style="red" if self.failed else "")
        line.append(f"unreachable {self.unreachable}", style="magenta" if self.unreachable else "")
        if self.running:
            host, since = min(self.running.items(), key=lambda item: item[1])
            line.append(f"  slowest {host} {time.monotonic() - since:.1f}s", style="yellow")
        return line


class ConsoleRenderer:
    def __init__(self, stream: TextIO, verbose: bool = False):
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.lines = Lines(verbose)
        self.board: _Board | None = None
        self.live: Live | None = None

    def _print(self, lines: list[str], style: str = "") -> None:
        for line in lines:
            self.console.print(Text(line, style=style))

    def _stop_board(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.live = None
        self.board = None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.StepStarted):
            self._print(self.lines(event), "bold")
            self.board = _Board(event)
            self.live = Live(self.board.render(), console=self.console, transient=True,
                             refresh_per_second=4, get_renderable=self.board.render)
            self.live.start()
            return
        if isinstance(event, ev.HostStarted) and self.board:
            self.board.started(event.host)
            return
        if isinstance(event, ev.HostReplied | ev.HostUnreachable) and self.board and event.final:
            outcome = ("unreachable" if isinstance(event, ev.HostUnreachable)
                       else "ok" if event.status == "OK" else "failed")
            self.board.finished(event.host, outcome)
        if isinstance(event, ev.StepDone | ev.StepFailed | ev.RunDone):
            self._stop_board()
        lines = self.lines(event)
        if not lines:
            return
        style = ""
        if isinstance(event, ev.Announced):
            style = "bold cyan"
        elif isinstance(event, ev.HostReplied):
            style = _STYLES.get(event.status, "red")
        elif isinstance(event, ev.HostUnreachable):
            style = "magenta"
        elif isinstance(event, ev.StepDone):
            style = "red" if event.failcount or event.unreachable else "green"
        elif isinstance(event, ev.RunDone | ev.StepFailed):
            style = "red" if isinstance(event, ev.StepFailed) or not event.ok else "green"
        elif isinstance(event, ev.Summarized):
            style = "bold"
        self._print(lines, style)
