"""Renderers of the event stream. Importing this package loads neither rich nor any renderer."""

from __future__ import annotations


def make_sink(env, json: bool = False, verbose: bool = False, diff: bool = False):
    """The sink that shows events to the user: JSON Lines, rich on a terminal, else plain text.

    ``env`` is the CLI's Environment (streams and isatty flags); ``diff`` shows the diffs
    replies carry (JSON Lines always has them in the data).
    """
    if json:
        from orch.output.jsonl import JsonLinesRenderer

        return JsonLinesRenderer(env.stdout)
    if env.stdout_isatty:
        from orch.output.console import ConsoleRenderer

        renderer = ConsoleRenderer(env.stdout, verbose=verbose)
        renderer.lines.diff = diff
        return renderer
    from orch.output.plain import PlainRenderer

    return PlainRenderer(env.stdout, verbose=verbose, diff=diff)


def fan_out(*sinks):
    """One sink that hands every event to each of ``sinks`` in order (e.g. console + journal)."""
    sinks = [sink for sink in sinks if sink is not None]

    def sink(event) -> None:
        for each in sinks:
            each(event)

    return sink
