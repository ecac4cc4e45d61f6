"""Runs a play: node sets, steps, batches, rolling, register, assert, on_fail/on_success, resume.

The engine is a run's one lifecycle: it emits RunStarted and RunDone, owns the run's host
locks, what ``--resume`` skips, and the outcome. ``orch call`` and ``orch facts --gather`` are
one-step runs of it (``run`` with a body that calls ``call`` once); YAML plays (``run_play``)
and Python plays (``orch.play.python_play``) are two front ends on it. The engine decides what
failure means; the runner (``session.call``) does the batching, retries and the wire.
Everything the user sees leaves through ``sink`` as events. The engine never prints, prompts
or exits; the CLI turns its outcome into an exit code (``Outcome.exit_status``).

``session`` is anything with ``async call(step_id, hosts, module, action, args, options) ->
StepResult`` (``orch.rpc.RpcSession``, or a small fake in unit tests).
``discover(selection) -> [Host]`` resolves a node set's filters (``orch.select.Filter`` fields).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal as signals
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orch.errors import ExitStatus, InputError, OrchError, Where
from orch.masking import Masker
from orch.output import events as ev
from orch.play.lazy import lazy_module
from orch.rpc import options as call_options
from orch.rpc.options import DEFAULT_OPTIONS, CallOptions

if TYPE_CHECKING:
    from orch.play.model import CallStep, NodeSet, Play, RollingStep

# A one-step `orch call` never renders a template nor reads a play: Jinja2 and the play model
# load on first use (about 50 ms of every call's start-up otherwise; bench/REPORT.md).
template = lazy_module("orch.play.template")
model = lazy_module("orch.play.model")

Discover = Callable[[dict], "list[Any] | Awaitable[list[Any]]"]
Body = Callable[[], Awaitable["tuple[bool, str]"]]


def new_run_id(now: float | None = None) -> str:
    """A sortable run id: UTC time to the second plus 6 random hex, ``20261125T081500-ab12cd``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return moment.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


class StepFailure(OrchError):
    """A step failed: the play stops here and ``on_fail`` runs."""

    def __init__(self, step: str, reason: str, where: Where | None = None):
        super().__init__(reason, where)
        self.step = step
        self.reason = reason


class Interrupted(StepFailure):
    """The run was asked to stop (SIGINT/SIGTERM): on_interrupt (default on_fail) runs."""


class Interrupt:
    """A run's stop request. The CLI's signal handlers call ``trigger``; the engine checks
    ``requested`` before it starts anything and waits on it during a call.

    The first signal stops new work and gives requests in flight ``grace`` seconds to end;
    a second one (``hurried``) cancels them at once. Nothing here prints or exits.
    """

    def __init__(self, grace: float = 10.0):
        self.grace = grace
        self.signals: list[int] = []
        self.first = asyncio.Event()
        self.second = asyncio.Event()

    def trigger(self, signum: int = signals.SIGINT) -> None:
        self.signals.append(int(signum))
        self.first.set()
        if len(self.signals) > 1:
            self.second.set()

    @property
    def requested(self) -> bool:
        return bool(self.signals)

    @property
    def hurried(self) -> bool:
        return len(self.signals) > 1

    @property
    def signum(self) -> int | None:
        return self.signals[0] if self.signals else None

    @property
    def name(self) -> str:
        if not self.signals:
            return ""
        try:
            return signals.Signals(self.signals[0]).name
        except ValueError:
            return f"signal {self.signals[0]}"


class BadTarget(InputError):
    """A host's connection settings are wrong (``ansible_port: eighty``): a usage error of the
    inventory, found before anything is sent (exit 2 naming the host and the variable)."""


def check_targets(hosts: list) -> None:
    """Raise BadTarget for the first host whose inventory port cannot be used."""
    for host in hosts:
        try:
            getattr(host, "port", None)
        except InputError as error:
            raise BadTarget(error.message, error.where) from None


class RunRefused(OrchError):
    """The run stops before changing anything (a node set is empty, its hosts are locked)."""


class EmptyNodeSet(RunRefused):
    """A node set found no host (``when_empty``) or fewer than ``at_least``."""


@dataclass
class Outcome:
    """What a run ended with; ``exit_status`` is what the CLI exits with."""

    run_id: str
    ok: bool
    message: str = ""
    failed: dict = field(default_factory=dict)
    unreachable: dict = field(default_factory=dict)
    status: str = ""  # ok | failed | interrupted
    signum: int | None = None  # the signal that interrupted the run
    not_run: tuple = ()  # hosts an interrupt left without a final reply (reported NotRun)

    @property
    def exit_status(self) -> int:
        if self.status == "interrupted" and self.signum:
            return 128 + self.signum  # 130 SIGINT, 143 SIGTERM: as a shell reports them
        return ExitStatus.OK if self.ok else ExitStatus.HOSTS_FAILED


_RECAP_KEYS = ("ok", "changed", "failed", "unreachable", "skipped")


class Engine:
    """One run: ``run(name, kind, inputs, body)``; YAML plays via ``run_play``; Python plays and
    ``orch call`` use ``resolve``/``call``/``announce`` inside a body."""

    def __init__(
        self,
        sink: Callable[[ev.Event], None],
        session: Any,
        discover: Discover,
        run_id: str,
        caller: str,
        *,
        done: set[tuple[str, str]] | frozenset = frozenset(),
        resumed_from: str | None = None,
        masker: Masker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lock: Callable[[list[str]], None] | None = None,
        narrow: Callable[[list], list] | None = None,
        check: bool = False,
        ssh_tuning: dict | None = None,
        defaults: CallOptions | None = None,
        interrupt: Interrupt | None = None,
        settled: set[tuple[str, str]] | None = None,
    ):
        self.sink = sink
        self.session = session
        self.discover = discover
        self.run_id = run_id
        self.caller = caller
        self.done = set(done)
        self.resumed_from = resumed_from
        self.masker = masker if masker is not None else Masker()
        self.sleep = sleep
        self.lock = lock  # lock(host names): raises OrchError when another run holds one
        self.narrow = narrow  # --limit / -I of orch play: narrows every node set
        self.check = check  # a dry run: every call in check mode
        self.ssh_tuning = dict(ssh_tuning or {})
        self.defaults = defaults  # become settings of orch play -b, for steps that say none
        self.last_result: Any = None  # the runner's StepResult of the latest call
        self.failed: dict[str, str] = {}
        self.unreachable: dict[str, str] = {}
        self.recap: dict[str, dict[str, int]] = {}
        self.interrupt = interrupt  # SIGINT/SIGTERM: stop new work, then on_interrupt
        # (step, host) pairs whose final reply has arrived (kept by the run's sink): what a
        # call cancelled at the end of the grace still had in flight is the rest.
        self.settled = settled if settled is not None else set()
        self.undone: list[str] = []  # what an interrupt left undone, for RunDone's message
        self.not_run: list[str] = []  # hosts an interrupt kept from a final reply (NotRun)
        self.cleanup_failures: list[str] = []  # on_fail/on_interrupt steps that failed
        self._cleaning = 0  # inside on_fail/on_success: never skip on resume
        self._started = time.monotonic()
        self._begun = False
        self._node_become: dict[str, bool | None] = {}  # node set -> its (or the play's) become
        self.name, self.kind = "", "play"

    # -- the run -------------------------------------------------------------------------------
    def emit(self, event: ev.Event) -> None:
        self.sink(event)

    def mask(self, text: str) -> str:
        return self.masker(text)

    async def run(self, name: str, kind: str, inputs: dict, body: Body, *,
                  lazy: bool = False) -> Outcome:
        """The whole run: RunStarted, ``body()`` → (ok, message), RunDone. Never raises for a
        failed step or a refused run: the outcome says so.

        ``lazy`` (Python plays): RunStarted waits for the body's first ``begin(inputs)``, so
        inputs asked and checked before it are journaled, and bad input raised before it is a
        usage error (exit 2) of a run that never started.
        """
        self.name, self.kind = name, kind
        if not lazy:
            self.begin(inputs)
        try:
            ok, message = await body()
        except RunRefused as refused:
            ok, message = False, refused.message
        except BadTarget:
            self.begin(inputs)
            self.finish(False, "stopped before anything was sent: a host's settings are wrong")
            raise
        except StepFailure as failure:  # a front end that let one escape (Python plays)
            ok, message = False, failure.reason
        except Exception as error:
            if not self._begun:
                raise  # bad input before the run started: a usage error (exit 2)
            # The final event is never lost, whatever escaped; the CLI reports the error.
            self.finish(False, f"run stopped by an error: {type(error).__name__}: {error}")
            raise
        self.begin(inputs)
        return self.finish(ok, message)

    @property
    def started(self) -> bool:
        return self._begun

    def begin(self, inputs: dict) -> None:
        """Emit RunStarted, once."""
        if self._begun:
            return
        self._begun = True
        self.emit(ev.RunStarted(run_id=self.run_id, name=self.name, kind=self.kind,
                                inputs=inputs, caller=self.caller,
                                resumed_from=self.resumed_from, check=self.check,
                                ssh_tuning=self.ssh_tuning))

    def finish(self, ok: bool, message: str = "") -> Outcome:
        interrupted = self.interrupt is not None and self.interrupt.requested
        ok = ok and not self.failed and not self.unreachable and not interrupted
        status = "interrupted" if interrupted else "ok" if ok else "failed"
        if interrupted:
            parts = [f"interrupted by {self._signal_name}"]
            if self.undone:
                parts.append("left undone: " + "; ".join(self.undone))
            message = ". ".join(parts + ([message] if message else []))
        if self.cleanup_failures:
            message = (message + ". " if message else "") + "FAILED in cleanup: " + "; ".join(
                self.cleanup_failures)
        message = self.mask(message)
        self.emit(ev.RunDone(run_id=self.run_id, ok=ok, failed=dict(self.failed),
                             unreachable=dict(self.unreachable),
                             elapsed=round(time.monotonic() - self._started, 3), message=message,
                             status=status,
                             recap={host: dict(counts) for host, counts in self.recap.items()}))
        return Outcome(self.run_id, ok, message, dict(self.failed), dict(self.unreachable),
                       status, self.interrupt.signum if interrupted else None,
                       tuple(dict.fromkeys(self.not_run)))

    # -- interrupts ----------------------------------------------------------------------------
    @property
    def _signal_name(self) -> str:
        return self.interrupt.name if self.interrupt is not None else "a stop request"

    @property
    def stopping(self) -> bool:
        """An interrupt asked the run to stop starting work (cleanup still runs)."""
        return self.interrupt is not None and self.interrupt.requested and not self._cleaning

    def check_interrupt(self, step_id: str) -> None:
        """Raise Interrupted before ``step_id`` starts when a stop was asked."""
        if self.stopping:
            self.undone.append(f"{step_id} and what follows not started")
            raise Interrupted(step_id, f"interrupted by {self._signal_name} before it started")

    async def _send(self, step_id: str, todo: list, module: str, action: str, args: dict,
                    options: CallOptions, hang_up: bool) -> Any:
        """The session's call, raced against an interrupt: in flight at the first signal, it
        gets the grace to end; at the second signal or the end of the grace it is cancelled,
        and each host without a final reply is recorded as NotRun (its state is unknown)."""
        def send():
            return self.session.call(step_id, todo, module, action, args, options,
                                     hang_up=hang_up)

        if self.interrupt is None or self._cleaning:
            return await send()
        task = asyncio.ensure_future(send())
        waiter = asyncio.ensure_future(self.interrupt.first.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not task.done():
            hurry = asyncio.ensure_future(self.interrupt.second.wait())
            try:
                await asyncio.wait({task, hurry}, timeout=self.interrupt.grace,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                hurry.cancel()
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        why = ("a second signal" if self.interrupt.hurried
               else f"the {self.interrupt.grace:g} s grace")
        pending = [host.name for host in todo if (step_id, host.name) not in self.settled]
        for name in pending:
            self.emit(ev.HostSkipped(step=step_id, host=name, status="NotRun",
                                     reason=f"interrupted: no reply before {why} ended"))
            self._count(name, "skipped")
            self.not_run.append(name)
        self.undone.append(f"{step_id} ({module}#{action}) cut off by {why} on "
                           f"{', '.join(pending) or 'no host'}")
        failure = Interrupted(step_id, f"interrupted by {self._signal_name}: "
                              f"{module}#{action} cancelled after {why} on "
                              f"{len(pending)} host(s): {', '.join(pending[:10])}")
        failure.view = {"ok": [], "failed": pending, "unreachable": [], "skipped": [],
                        "changed": [], "replies": {}, "data": {}, "interrupted": pending}
        raise failure

    def announce(self, text: str) -> None:
        self.emit(ev.Announced(text=str(text)))

    def lock_hosts(self, names: list[str]) -> None:
        """Take the run lock of ``names``; RunRefused naming the holder when another run has one."""
        if self.lock is None or not names:
            return
        try:
            self.lock(names)
        except OrchError as error:
            raise RunRefused(error.message) from None

    # -- node sets -----------------------------------------------------------------------------
    async def resolve(self, name: str, selection: dict, when_empty: str | None = None,
                      at_least: int | None = None, lock: bool = True) -> list:
        """Hosts matching ``selection`` (classes facts identities agents compound limit),
        narrowed by ``--limit``/``-I``, locked for this run unless ``lock`` is false (hosts
        several runs may share)."""
        found = self.discover(selection)
        if asyncio.iscoroutine(found):
            found = await found
        hosts = list(found)
        if self.narrow is not None:
            hosts = self.narrow(hosts)
        self.emit(ev.Discovered(nodes=name, hosts=[host.name for host in hosts]))
        if not hosts:
            raise EmptyNodeSet(when_empty or f"node set {name!r}: no host matched")
        if at_least is not None and len(hosts) < at_least:
            raise EmptyNodeSet(when_empty or
                               f"node set {name!r}: found {len(hosts)} host(s), need at least {at_least}")
        check_targets(hosts)
        if lock:
            self.lock_hosts([host.name for host in hosts])
        return hosts

    # -- calls ---------------------------------------------------------------------------------
    async def call(
        self,
        step_id: str,
        hosts: list,
        module: str,
        action: str,
        args: dict,
        options: CallOptions = DEFAULT_OPTIONS,
        *,
        condition: Callable[[str, dict, dict], bool] | None = None,
        condition_text: str = "",
        skip_done: bool = True,
        where: Where | None = None,
        hang_up: bool = False,
    ) -> dict:
        """Call ``module.action`` on ``hosts``; raise StepFailure when the step fails.

        Returns the registered view: ``{"ok": [...], "failed": [...], "unreachable": [...],
        "skipped": [...], "changed": [...], "replies": {host: {"status", "message", "data",
        "changed"}}, "data": {host: data}}``.
        """
        if self.check and not options.check:
            options = CallOptions.build({"check": True}, base=options)
        if self.defaults is not None and options.become is None:
            options = CallOptions.build({key: getattr(self.defaults, key) for key in
                                         ("become", "become_user", "become_method")},
                                        base=options)
        todo, skipped = [], []
        for host in hosts:
            if skip_done and (step_id, host.name) in self.done:
                skipped.append(host.name)
                self.emit(ev.HostSkipped(step=step_id, host=host.name,
                                         reason=f"succeeded in run {self.resumed_from}"))
                self._count(host.name, "skipped")
            else:
                todo.append(host)
        result: dict = {}
        if todo:
            self.check_interrupt(step_id)
            raw = await self._send(step_id, todo, module, action, args, options, hang_up)
            self.last_result = raw
            result = dict(getattr(raw, "results", raw).items())
        view: dict[str, Any] = {"ok": [], "failed": [], "unreachable": [], "skipped": skipped,
                                "changed": [], "replies": {}, "data": {}}
        problems: dict[str, str] = {}
        for name, reply in result.items():
            status = getattr(reply, "status", "UnknownError")
            message = self.mask(getattr(reply, "message", "") or "")
            data = self.masker.value(getattr(reply, "data", None) or {})
            changed = getattr(reply, "changed", None)
            view["replies"][name] = {"status": status, "message": message, "data": data,
                                     "changed": changed}
            view["data"][name] = data
            if status == "OK" and condition is not None and not condition(name, data, view["replies"][name]):
                status, message = "AssertFailed", f"assert {condition_text or 'check'} is false"
            if status == "OK":
                view["ok"].append(name)
                self._count(name, "changed" if changed else "ok")
                if changed:
                    view["changed"].append(name)
            elif status == "Skipped":
                view["skipped"].append(name)
                self._count(name, "skipped")
            elif status == "Unreachable":
                view["unreachable"].append(name)
                problems[name] = message or "unreachable"
                self._count(name, "unreachable")
            else:
                view["failed"].append(name)
                problems[name] = f"{status}: {message}" if message else status
                self._count(name, "failed")
        # Hosts the session never started (an interrupt stopped its batches): not done.
        missing = [host.name for host in todo if host.name not in result]
        for name in missing:
            self.emit(ev.HostSkipped(step=step_id, host=name, status="NotRun",
                                     reason="interrupted before it started"))
            self._count(name, "skipped")
            self.not_run.append(name)
        if missing:
            view["failed"] += missing
            view["interrupted"] = missing
        if problems and not options.fail_ok:
            label = "" if self.kind == "call" else f"{module}#{action}: "  # a call has one step
            for name in view["unreachable"]:
                self.unreachable.setdefault(name, label + problems[name])
            for name in view["failed"]:
                if name in problems:  # hosts an interrupt kept from starting are NotRun
                    self.failed.setdefault(name, label + problems[name])
            allowed = options.allowed_failures(len(todo))
            if len(problems) > allowed:
                shown = ", ".join(f"{name} ({reason})" for name, reason in sorted(problems.items())[:5])
                more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
                reason = (f"{module}#{action} failed on {len(problems)} of {len(todo)} host(s)"
                          + (f" (max_fail {options.max_fail})" if allowed else "")
                          + f": {shown}{more}")
                failure = StepFailure(step_id, reason, where)
                failure.view = view  # registered even so: on_fail must know who failed
                raise failure
        if missing:
            self.undone.append(f"{step_id} ({module}#{action}) not started on {', '.join(missing)}")
            failure = Interrupted(step_id, f"interrupted by {self._signal_name}: "
                                  f"{module}#{action} not started on {', '.join(missing)}", where)
            failure.view = view
            raise failure
        return view

    async def one_step(self, step_id: str, hosts: list, module: str, action: str, args: dict,
                       options: CallOptions, *, read_only: bool) -> tuple[bool, str]:
        """``orch call`` (and ``facts --gather``): one call on hosts already selected.

        A changing action takes the hosts' run locks as a play does (``options.lock``); each
        host hangs up as soon as its last attempt is over, since nothing else follows."""
        self.emit(ev.Discovered(nodes=step_id, hosts=[host.name for host in hosts]))
        check_targets(hosts)
        if options.lock and not read_only:
            self.lock_hosts([host.name for host in hosts])
        try:
            await self.call(step_id, hosts, module, action, args, options, skip_done=False,
                            hang_up=True)
        except StepFailure as failure:
            self.emit(ev.StepFailed(step=failure.step, reason=failure.reason))
            return False, ""
        return True, ""

    def _count(self, host: str, key: str) -> None:
        counts = self.recap.get(host)
        if counts is None:
            counts = self.recap[host] = dict.fromkeys(_RECAP_KEYS, 0)
        counts[key] += 1

    # -- YAML plays ----------------------------------------------------------------------------
    async def run_play(self, play: Play, inputs: dict, masked_inputs: dict) -> Outcome:
        """The whole run of a YAML play; never raises for a failed step (the outcome says so)."""
        return await self.run(play.name, "play", masked_inputs, lambda: self.play_body(play, inputs))

    async def play_body(self, play: Play, inputs: dict) -> tuple[bool, str]:
        """A YAML play as a run body (``Engine.run``, ``orch.play.lifecycle.Run``)."""
        return await self._play_body(play, inputs, prefix="")

    async def _play_body(self, play: Play, inputs: dict, prefix: str) -> tuple[bool, str]:
        """Steps in order; node sets are all resolved just before the first step that needs
        hosts (so leading banners print first, and nothing changes before every set is known).

        Whatever stops the steps once every set is resolved (a failed step, a template that
        fails at run time, an unexpected exception, an interrupt), ``on_fail`` runs (for an
        interrupt, ``on_interrupt`` when the play has one); its own failures are reported.
        """
        context = {**inputs, "inputs": dict(inputs), "user": self.caller, "run_id": self.run_id,
                   "play": play.name, "nodes": {}}
        hosts_by_set: dict[str, list] = {}

        async def resolve_all() -> None:
            """Discover and lock every set first, then ping: nothing is sent while a set
            may still turn out empty or locked by another run."""
            for node_set in play.nodes:
                hosts = await self._resolve_set(node_set, context)
                hosts_by_set[node_set.name] = hosts
                self._node_become[node_set.name] = (node_set.become if node_set.become is not None
                                                    else play.become)
                context["nodes"][node_set.name] = [host.name for host in hosts]
            for node_set in play.nodes:
                if node_set.ping:
                    await self.call(f"{prefix}nodes.{node_set.name}.ping",
                                    hosts_by_set[node_set.name], "rpcutil", "ping", {},
                                    PING_OPTIONS, skip_done=False)

        first = next((index for index, step in enumerate(play.steps)
                      if not isinstance(step, model.AnnounceStep) or "nodes" in step.text),
                     len(play.steps))
        try:
            await self._steps(play.steps[:first], context, hosts_by_set, prefix)  # banners
            try:
                await resolve_all()
            except StepFailure as failure:  # a ping failed (or a stop): nothing changed yet
                self.emit(ev.StepFailed(step=failure.step, reason=failure.reason))
                return False, f"play {play.name!r} stopped before changing anything"
            await self._steps(play.steps[first:], context, hosts_by_set, prefix)
        except (RunRefused, BadTarget):
            raise
        except Exception as error:
            failure = error if isinstance(error, StepFailure) else StepFailure(
                getattr(error, "step", "") or f"{prefix}(play)",
                f"{type(error).__name__}: {error}")
            if not isinstance(error, StepFailure):
                self.failed.setdefault("(play)", failure.reason)
            self.emit(ev.StepFailed(step=failure.step, reason=self.mask(failure.reason)))
            interrupted = isinstance(failure, Interrupted) or (
                self.interrupt is not None and self.interrupt.requested)
            cleanup, label = play.on_fail, "on_fail"
            if interrupted and play.on_interrupt is not None:
                cleanup, label = play.on_interrupt, "on_interrupt"
            ran = ""
            if len(hosts_by_set) == len(play.nodes) and cleanup:
                await self._cleanup(cleanup, context, hosts_by_set, prefix, label=label)
                ran = f"; {label} ran"
            how = "interrupted" if interrupted else "failed"
            return False, f"play {play.name!r} stopped at {failure.step} ({how}){ran}"
        await self._cleanup(play.on_success, context, hosts_by_set, prefix, stop=True,
                            label="on_success")
        return True, ""

    async def _cleanup(self, steps: tuple, context: dict, hosts_by_set: dict, prefix: str,
                       stop: bool = False, label: str = "on_fail") -> None:
        """on_fail runs every step even if one fails; on_success stops at the first failure.

        Neither is skipped on ``--resume``: they put things back, whatever ran before. A step
        of theirs that fails is reported (StepFailed, the run's message), never hidden."""
        self._cleaning += 1
        try:
            for step in steps:
                try:
                    await self._step(step, context, hosts_by_set, prefix)
                except Exception as error:
                    reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
                    step_id = getattr(error, "step", None) or prefix + step.id
                    self.emit(ev.StepFailed(step=step_id, reason=self.mask(reason)))
                    self.cleanup_failures.append(f"{label} {step_id}: {reason}")
                    if stop:
                        self.failed.setdefault("(play)", reason)
                        return
        finally:
            self._cleaning -= 1

    async def _resolve_set(self, node_set: NodeSet, context: dict) -> list:
        def render(value):
            return template.render(value, context, node_set.where)

        selection = {
            "classes": tuple(render(list(node_set.classes))),
            "facts": tuple(render(list(node_set.facts))),
            "identities": tuple(render(list(node_set.identities))),
            "agents": tuple(render(list(node_set.agents))),
            "compound": tuple(render(list(node_set.compound))),
            "limit": None if node_set.limit is None else str(render(node_set.limit)),
        }
        when_empty = render(node_set.when_empty) if node_set.when_empty else None
        at_least = None
        if node_set.at_least is not None:
            at_least = _number(node_set.at_least, context, node_set.where, integer=True)
        return await self.resolve(node_set.name, selection, when_empty, at_least, node_set.lock)

    # -- resume --------------------------------------------------------------------------------
    def _done_on(self, step_id: str, hosts: list) -> bool:
        """Whether ``step_id`` succeeded on every one of ``hosts`` in the resumed run."""
        return bool(hosts) and all((step_id, host.name) in self.done for host in hosts)

    def _finished(self, step: Any, step_id: str, hosts_by_set: dict, context: dict) -> bool:
        """Whether a step is wholly done in the resumed run (a rolling step: every batch)."""
        if isinstance(step, model.CallStep):
            return self._done_on(step_id, hosts_by_set.get(step.nodes, []))
        if isinstance(step, model.RollingStep):
            return all(self._batch_done(step, step_id, index, batch, hosts_by_set)
                       for index, batch in
                       enumerate(self._batches(step, hosts_by_set, context), 1))
        return True  # banners and asserts change nothing

    def _batches(self, step: RollingStep, hosts_by_set: dict, context: dict) -> list:
        hosts = hosts_by_set[step.nodes]
        size = _option("batch_size", step.batch_size, context, step.where)
        if size < 1:
            raise InputError(f"batch_size: a rolling step needs at least 1, got {size}",
                             step.where)
        return [hosts[i:i + size] for i in range(0, len(hosts), size)]

    def _batch_done(self, step: RollingStep, step_id: str, index: int, batch: list,
                    hosts_by_set: dict) -> bool:
        """A batch is a unit: done only when every nested call succeeded on all its hosts."""
        if not self.done:
            return False
        sets = {**hosts_by_set, "batch": batch}
        prefix = f"{step_id}.batch[{index}]."
        calls = [nested for nested in step.steps if isinstance(nested, model.CallStep)]
        return bool(calls) and all(
            self._done_on(prefix + nested.id, sets.get(nested.nodes, [])) for nested in calls)

    async def _steps(self, steps: tuple, context: dict, hosts_by_set: dict, prefix: str) -> None:
        """Steps in order. On ``--resume`` a ``resume: rerun`` step (taking servers out, say)
        runs again only when something up to the last later step on its node set (putting
        them back) is unfinished, and then that later step runs again too: such a pair is
        never split, whatever the previous run got through."""
        forced: set[str] = set()
        for index, step in enumerate(steps):
            step_id = prefix + step.id
            self.check_interrupt(step_id)
            if self.done and not self._cleaning and isinstance(step, model.CallStep) \
                    and step.rerun_on_resume and step.id not in forced:
                partners = [later for later in steps[index + 1:]
                            if isinstance(later, model.CallStep) and later.nodes == step.nodes]
                span = steps[index:steps.index(partners[-1]) + 1] if partners else steps[index:]
                if all(self._finished(s, prefix + s.id, hosts_by_set, context) for s in span):
                    self._skip_all(step, step_id, hosts_by_set, "its pair finished in run")
                    continue
                forced.update(partner.id for partner in partners)
            await self._step(step, context, hosts_by_set, prefix,
                             rerun=step.id in forced)

    def _skip_all(self, step: CallStep, step_id: str, hosts_by_set: dict, why: str) -> None:
        for host in hosts_by_set.get(step.nodes, []):
            self.emit(ev.HostSkipped(step=step_id, host=host.name,
                                     reason=f"{why} {self.resumed_from}"))
            self._count(host.name, "skipped")

    async def _step(self, step: Any, context: dict, hosts_by_set: dict, prefix: str,
                    rerun: bool = False) -> None:
        step_id = prefix + step.id
        try:
            if isinstance(step, model.AnnounceStep):
                self.announce(str(template.render(step.text, context, step.where)))
            elif isinstance(step, model.AssertStep):
                if not template.evaluate(step.that, context, step.where):
                    text = template.render(step.message, context, step.where) if step.message else ""
                    raise StepFailure(step_id, str(text) or f"assertion {step.that!r} is false",
                                      step.where)
            elif isinstance(step, model.CallStep):
                await self._call_step(step, step_id, context, hosts_by_set, rerun=rerun)
            elif isinstance(step, model.RollingStep):
                await self._rolling(step, step_id, context, hosts_by_set)
            elif isinstance(step, model.PlayStep):
                inputs = template.render(step.inputs, context, step.where)
                values = lazy_module("orch.play.inputs").resolve_inputs(step.play.inputs, inputs, None, step.play.file, flag="inputs")
                try:
                    ok, message = await self._play_body(step.play, values, prefix=step_id + ".")
                except RunRefused as refused:
                    ok, message = False, refused.message
                if not ok:
                    raise StepFailure(step_id, f"play {step.play.name!r}: {message}", step.where)
        except InputError as error:
            # A template that fails at run time (a registered value without that key, say)
            # stops the play like a failed step, so on_fail still puts things back.
            raise StepFailure(step_id, str(error), step.where) from None

    async def _call_step(self, step: CallStep, step_id: str, context: dict, hosts_by_set: dict,
                         rerun: bool = False) -> None:
        hosts = hosts_by_set[step.nodes]
        args = template.render(step.args, context, step.where)
        condition = None
        if step.condition:
            def condition(host: str, data: dict, reply: dict) -> bool:
                scope = {**context, **data, "data": data, "host": host, "status": reply["status"],
                         "message": reply["message"]}
                return bool(template.evaluate(step.condition, scope, step.where))
        options = step_options(step, context, self._node_become.get(step.nodes))
        skip = not (rerun or step.rerun_on_resume or self._cleaning or context.get("_rerun"))
        try:
            view = await self.call(
                step_id, hosts, step.module, step.action, args, options, condition=condition,
                condition_text=step.condition or "", skip_done=skip, where=step.where)
        except StepFailure as failure:
            if step.register and getattr(failure, "view", None) is not None:
                context[step.register] = failure.view
            raise
        if step.register:
            context[step.register] = view

    async def _rolling(self, step: RollingStep, step_id: str, context: dict, hosts_by_set: dict) -> None:
        """Each batch is a unit. On ``--resume`` a batch whose nested calls all succeeded on
        all its hosts is skipped whole; any other batch runs again from its first step."""
        batches = self._batches(step, hosts_by_set, context)
        self._node_become["batch"] = self._node_become.get(step.nodes)
        pause = _option("batch_sleep", step.batch_sleep, context, step.where)
        for index, batch in enumerate(batches, 1):
            names = [host.name for host in batch]
            batch_prefix = f"{step_id}.batch[{index}]."
            self.check_interrupt(batch_prefix.rstrip("."))
            self.emit(ev.BatchStarted(step=step_id, index=index, count=len(batches), hosts=names))
            sets = {**hosts_by_set, "batch": batch}
            if self._batch_done(step, step_id, index, batch, hosts_by_set):
                for nested in step.steps:
                    if isinstance(nested, model.CallStep):
                        self._skip_all(nested, batch_prefix + nested.id, sets,
                                       f"batch {index} finished in run")
                continue
            scope = {**context, "batch": names, "batch_index": index, "_rerun": bool(self.done)}
            scope["nodes"] = {**context["nodes"], "batch": names}
            try:
                for nested in step.steps:
                    self.check_interrupt(batch_prefix + nested.id)
                    await self._step(nested, scope, sets, batch_prefix)
            finally:
                for key, value in scope.items():  # registered results, even of a failed batch
                    if key not in ("batch", "batch_index", "nodes", "_rerun"):
                        context[key] = value
            if pause and index < len(batches):
                await self._pause(pause)

    async def _pause(self, seconds: float) -> None:
        """Sleep between batches; an interrupt ends the pause at once."""
        if self.interrupt is None:
            await self.sleep(seconds)
            return
        nap = asyncio.ensure_future(self.sleep(seconds))
        waiter = asyncio.ensure_future(self.interrupt.first.wait())
        try:
            await asyncio.wait({nap, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nap.cancel()
            waiter.cancel()


PING_OPTIONS = CallOptions(try_sleep=0)
_STEP_OPTIONS = ("batch_size", "batch_sleep", "tries", "try_sleep", "timeout", "max_fail")


def check_play_options(play: Play, inputs: dict) -> None:
    """Render every step option that is a template of the inputs alone (``try_sleep: "{{
    try_sleep }}"``) and check it by its option's rules now: ``-e try_sleep=1e9`` or
    ``batch_size=0`` is a usage error (exit 2) before any host is contacted, not a failure
    after the servers are out of the load balancer. Options that use registered results or
    nodes are checked when their step runs."""
    context = {**inputs, "inputs": dict(inputs)}

    def walk(steps: tuple) -> None:
        for step in steps:
            names = _STEP_OPTIONS if isinstance(step, model.CallStep) else ()
            if isinstance(step, model.RollingStep):
                names = ("batch_size", "batch_sleep")
                walk(step.steps)
            for name in names:
                value = getattr(step, name)
                if not template.is_template(value):
                    continue
                try:
                    value = template.render(value, context, step.where)
                except InputError:
                    continue  # needs more than the inputs: checked at run time
                try:
                    parsed = call_options.parse(name, value)
                except InputError as error:
                    raise InputError(error.message, step.where) from None
                if isinstance(step, model.RollingStep) and name == "batch_size" and parsed < 1:
                    raise InputError(f"batch_size: a rolling step needs at least 1, got {parsed}",
                                     step.where)

    walk(play.steps + play.on_fail + play.on_success + (play.on_interrupt or ()))


def step_options(step: CallStep, context: dict, inherited_become: bool | None = None) -> CallOptions:
    """A call step's options: templates rendered with the run's context, then checked as any
    front end's options are (a bad value names the step's line)."""
    values = {}
    for name in ("batch_size", "batch_sleep", "tries", "try_sleep", "timeout", "max_fail"):
        value = getattr(step, name)
        if template.is_template(value):
            value = template.render(value, context, step.where)
        values[name] = value
    values.update(verbose=step.verbose, summarize=step.summarize, fail_ok=step.fail_ok)
    if getattr(step, "check", None) is not None:
        values["check"] = step.check
    become = step.become if step.become is not None else inherited_become
    if become is not None:
        values["become"] = become
    if step.become_user is not None:
        values["become_user"] = step.become_user
    return CallOptions.build(values, lambda name: step.where)


def _option(name: str, value: Any, context: dict, where: Where) -> Any:
    """One call option's value, rendered when it is a template, checked by its rules."""
    if template.is_template(value):
        value = template.render(value, context, where)
    try:
        return call_options.parse(name, value)
    except InputError as error:
        raise InputError(error.message, where) from None


def _number(value: Any, context: dict, where: Where, integer: bool = False) -> Any:
    if template.is_template(value):
        value = template.render(value, context, where)
    if isinstance(value, bool):
        value = None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError, OverflowError):
        kind = "an integer" if integer else "a number"
        raise InputError(f"expected {kind}, got {value!r}", where) from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(f"expected a finite number, got {value!r}", where)
    if number < 0:
        raise InputError(f"must not be negative, got {number}", where)
    return number
