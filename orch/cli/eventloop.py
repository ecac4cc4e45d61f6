"""The event loop a fleet run (``orch call``, ``orch play``, ``orch facts --gather``) runs on.

uvloop when it is installed (a dependency of orch on Linux), else asyncio's own loop. Every
host costs the controller a TCP connection, an SSH handshake and a dozen packets each way,
and asyncio's pure-Python selector loop and transports handle each of those callbacks and
writes: uvloop's, in C over libuv, took 2–5 % off the controller CPU of a 200-host
``orch call`` (bench/REPORT.md, findings, fix 18). Nothing else changes: the same asyncio API,
tasks and timeouts, the same SSH library.

``ORCH_EVENT_LOOP=asyncio`` runs on asyncio's own loop (to rule uvloop out when chasing a
problem); ``ORCH_EVENT_LOOP=uvloop`` insists on uvloop and fails with one line without it.
Commands call ``loop_factory`` before they open the journal or build the coroutine, so a bad
value stops them with nothing started.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from orch.errors import InputError, Where

T = TypeVar("T")
CHOICES = ("auto", "uvloop", "asyncio")


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(environ: Mapping[str, str] = os.environ) -> LoopFactory | None:
    """The loop to run on: uvloop's ``new_event_loop``, or None for asyncio's default.

    :raises InputError: ``ORCH_EVENT_LOOP`` names no loop, or asks for uvloop where it is
        not installed.
    """
    choice = environ.get("ORCH_EVENT_LOOP", "").strip().lower() or "auto"
    if choice not in CHOICES:
        raise InputError(f"must be one of {', '.join(CHOICES)}, got {choice!r}",
                         Where(path="ORCH_EVENT_LOOP"))
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise InputError("uvloop asked for, but it is not installed (pip install uvloop)",
                             Where(path="ORCH_EVENT_LOOP")) from None
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T], factory: LoopFactory | None = None,
        on_signal: Callable[[int], None] | None = None) -> T:
    """``asyncio.run(main)`` on the loop ``factory`` makes (``loop_factory``'s pick; None:
    asyncio's own). Ctrl-C cancels ``main``, as with ``asyncio.run``, unless ``on_signal`` is
    given: then SIGINT and SIGTERM call ``on_signal(signum)`` on the loop instead (a run's
    ``Interrupt.trigger``: the engine stops at its next check and cleans up)."""
    with asyncio.Runner(loop_factory=factory) as runner:
        if on_signal is None:
            return runner.run(main)
        return runner.run(_with_signals(main, on_signal))


async def _with_signals(main: Coroutine[Any, Any, T], on_signal: Callable[[int], None]) -> T:
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        installed.append(signum)
    try:
        return await main
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``"uvloop"`` or ``"asyncio"``: which loop ``loop`` is (bench/run.py records it)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
