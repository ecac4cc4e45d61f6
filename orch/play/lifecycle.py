"""What every run around the fleet shares, whoever started it: ``orch call``, ``orch facts
--gather``, a YAML play or a Python play.

``Run.execute`` opens the journal, builds the run's one sink (masking, then the journal, then
what the user sees), opens the SSH session, hands all of it to an ``Engine`` and runs the
front end's body on it; afterwards it releases the run's host locks and closes the journal,
whatever happened. The front ends differ only in their body: one ``engine.call`` for a call, the
play's steps for a play.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from orch.masking import Masker
from orch.output import events as ev
from orch.play.engine import Engine, Interrupt, Outcome, new_run_id

# The session (and with it asyncssh) is imported with this module, before the command settles
# its heap (orch.cli.runner.settle_heap): imported after it, asyncssh's import ran with the
# collector on, ~150 ms of CPU more per run (bench/cpu_ab.py, 1 host: 639 vs 488 ms).
from orch.rpc.session import RpcSession

__all__ = ["Interrupt", "Run", "RunBody", "interrupted_call", "signal_notice"]

RunBody = Callable[[Engine], Awaitable["tuple[bool, str]"]]


class Run:
    """One run of orch against the fleet: its id, journal, locks, masking, session and outcome."""

    def __init__(
        self,
        config: Any,
        registry: Any,
        show: ev.Sink,
        *,
        masker: Masker | None = None,
        journal: Any = None,
        resumed_from: str | None = None,
        done: Iterable[tuple[str, str]] = (),
        host_key_policy: str | None = None,
        narrow: Callable[[list], list] | None = None,
        check: bool = False,
        locking: bool = True,
        become_password: str | None = None,
        defaults: Any = None,
        discover: Callable[[dict], list] | None = None,
        interrupt: Interrupt | None = None,
        play_hash: str = "",
    ):
        self.config = config
        self.registry = registry
        self.show = show
        self.masker = masker if masker is not None else Masker()
        self.journal = journal
        self.resumed_from = resumed_from
        self.done = set(done)
        self.host_key_policy = host_key_policy
        self.narrow = narrow
        self.check = check
        self.locking = locking  # False: --no-lock (journaled by the front end)
        self.become_password = become_password  # never in an event: the session writes it
        self.defaults = defaults  # CallOptions the CLI gives every step (e.g. -b)
        self.discover = discover or _discoverer(config)
        self.interrupt = interrupt  # set by the CLI's signal handlers
        self.play_hash = play_hash  # the play file's sha256, kept for --resume to compare
        self.run_id = new_run_id()
        self.settled: set[tuple[str, str]] = set()  # (step, host) with a final reply
        self._pipe_closed = False

    def sink(self, journal: Any) -> ev.Sink:
        """Masking first, then the journal, then the user's view.

        A closed stdout (``orch play … | head``) stops the output, not the run: stopping half
        way would leave servers out of the load balancer. The journal still gets everything.
        """
        masker, show, settled = self.masker, self.show, self.settled
        finals = (ev.HostReplied, ev.HostUnreachable)

        def sink(event: ev.Event) -> None:
            event = masker.event(event)
            if isinstance(event, ev.HostSkipped) or (isinstance(event, finals) and event.final):
                settled.add((event.step, event.host))
            journal(event)
            if isinstance(event, ev.RunStarted) and self.play_hash:
                annotate = getattr(journal, "annotate", None)
                if annotate is not None:
                    annotate(event.run_id, play_hash=self.play_hash)
            if self._pipe_closed:
                return
            try:
                show(event)
            except BrokenPipeError:
                self._pipe_closed = True

        return sink

    async def execute(self, name: str, kind: str, inputs: dict, body: RunBody, *,
                      lazy: bool = False) -> Outcome:
        """Run ``body(engine)`` as the run ``name`` (``kind``: "play" or "call"); ``lazy``: the
        body emits RunStarted itself (``Engine.run``)."""
        from orch.journal import open_journal
        from orch.transport import tuning_report

        journal = self.journal if self.journal is not None else open_journal(self.config.journal)
        sink = self.sink(journal)
        run_id = self.run_id
        try:
            async with RpcSession(self.config, self.registry, sink, run_id,
                                  host_key_policy=self.host_key_policy,
                                  become_password=self.become_password) as session:
                engine = Engine(sink, session, self.discover, run_id, session.caller,
                                done=self.done, resumed_from=self.resumed_from,
                                masker=self.masker, narrow=self.narrow, check=self.check,
                                lock=(lambda hosts: journal.lock(run_id, hosts))
                                if self.locking else None,
                                ssh_tuning=tuning_report(), defaults=self.defaults,
                                interrupt=self.interrupt, settled=self.settled)
                # The session starts no new batch of a step once a stop was asked.
                session.stop_requested = lambda: engine.stopping
                return await engine.run(name, kind, inputs, lambda: body(engine), lazy=lazy)
        except (KeyboardInterrupt, asyncio.CancelledError):
            journal.mark(run_id, "interrupted")
            raise
        finally:
            journal.unlock(run_id)
            if self.journal is None:
                journal.close()


def _discoverer(config: Any) -> Callable[[dict], list]:
    def discover(selection: dict) -> list:
        from orch.select import Filter
        from orch.select import discover as select

        return select(config, Filter(**selection))

    return discover


def signal_notice(stderr: Any, interrupt: Interrupt, then: str) -> Callable[[int], None]:
    """The handler a front end gives ``eventloop.run(on_signal=)``: SIGINT/SIGTERM during a
    run tell the operator what happens now (``then``: what follows the grace), then the
    engine (``Interrupt.trigger``). A second signal skips the grace."""
    import signal

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if not interrupt.requested:
            stderr.write(f"orch: {name}: nothing new starts; requests in flight get up to "
                         f"{interrupt.grace:g} s, then {then} (again to stop now)\n")
        else:
            stderr.write(f"orch: {name} again: cancelling the requests in flight\n")
        stderr.flush()
        interrupt.trigger(signum)

    return handle


def interrupted_call(outcome: Outcome, command: str) -> str:
    """What an interrupted one-step run (``orch call``, ``orch facts --gather``) tells the
    operator on stderr: which hosts it did not reach and how to finish."""
    line = f"orch: run {outcome.run_id} was interrupted"
    if outcome.not_run:
        names = list(outcome.not_run)
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        again = " ".join(f"-I {name}" for name in names[:20])
        line += (f"; not run on {len(names)} host(s): {shown}; to finish, run {command} again "
                 f"on them ({again}{' ...' if len(names) > 20 else ''})")
    else:
        line += "; every host had replied"
    return line + f"; 'orch runs {outcome.run_id}' shows each host's state\n"
