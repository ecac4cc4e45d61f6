"""Runs a play: node sets, steps, batches, rolling, register, assert, on_fail/on_success, resume.

The engine decides what failure means; the runner (``session.call``) does the batching,
retries and the wire. Everything the user sees leaves through ``sink`` as events. The engine
never prints, prompts or exits; the CLI turns its outcome into an exit code.

``session`` is anything with ``async call(step_id, hosts, module, action, args, batch_size,
batch_sleep, tries, try_sleep, timeout, summarize) -> StepResult`` whose ``.results`` maps a
host to its HostResult (``orch.rpc.RpcSession``, or a small fake in unit tests).
``discover(selection) -> [Host]`` resolves a node set's filters (``orch.select.Filter`` fields).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from orch.errors import InputError, OrchError, Where
from orch.output import events as ev
from orch.play import template
from orch.play.inputs import resolve_inputs
from orch.play.model import (
    AnnounceStep,
    AssertStep,
    CallStep,
    NodeSet,
    Play,
    PlayStep,
    RollingStep,
)

Discover = Callable[[dict], "list[Any] | Awaitable[list[Any]]"]


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


class RunRefused(OrchError):
    """The run stops before changing anything (a node set is empty, its hosts are locked)."""


class EmptyNodeSet(RunRefused):
    """A node set found no host (``when_empty``) or fewer than ``at_least``."""


@dataclass
class Outcome:
    """What a run ended with; the CLI maps ``ok`` to exit 0 and anything else to 1."""

    run_id: str
    ok: bool
    message: str = ""
    failed: dict = field(default_factory=dict)
    unreachable: dict = field(default_factory=dict)


@dataclass
class _StepOptions:
    verbose: bool = False
    summarize: bool = False


class Engine:
    """One run of a play: YAML via ``run_play``; Python plays use ``resolve``/``call``/``announce``."""

    def __init__(
        self,
        sink: Callable[[ev.Event], None],
        discover: Discover,
        run_id: str,
        caller: str,
        done: set[tuple[str, str]] | frozenset = frozenset(),
        resumed_from: str | None = None,
        mask: Callable[[str], str] = lambda text: text,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lock: Callable[[list[str]], None] | None = None,
    ):
        self.sink = sink
        self.discover = discover
        self.run_id = run_id
        self.caller = caller
        self.done = set(done)
        self.resumed_from = resumed_from
        self.mask = mask
        self.sleep = sleep
        self.lock = lock  # lock(host names): raises OrchError when another run holds one
        self.session: Any = None
        self.last_result: Any = None  # the runner's StepResult of the latest call
        self.failed: dict[str, str] = {}
        self.unreachable: dict[str, str] = {}
        self._options: dict[str, _StepOptions] = {}
        self._cleaning = 0  # inside on_fail/on_success: never skip on resume
        self._started = time.monotonic()

    # -- events --------------------------------------------------------------------------------
    def runner_sink(self, event: ev.Event) -> None:
        """The sink handed to the runner: drops summaries a step did not ask for, masks text."""
        step = getattr(event, "step", None)
        options = self._options.get(step) if step is not None else None
        if isinstance(event, ev.Summarized) and options is not None and not options.summarize:
            return
        if isinstance(event, ev.HostReplied) and (event.message or event.data):
            event = replace(event, message=self.mask(event.message),
                            data=_mask_strings(event.data, self.mask))
        self.sink(event)

    def is_verbose(self, step: str) -> bool:
        """Whether the step asked for a line per host (``verbose: true``); renderers ask this."""
        options = self._options.get(step)
        return bool(options and options.verbose)

    def emit(self, event: ev.Event) -> None:
        self.sink(event)

    def start(self, name: str, inputs: dict) -> None:
        self.emit(ev.RunStarted(run_id=self.run_id, name=name, kind="play", inputs=inputs,
                                caller=self.caller, resumed_from=self.resumed_from))

    def finish(self, ok: bool, message: str = "") -> Outcome:
        ok = ok and not self.failed and not self.unreachable
        message = self.mask(message)
        self.emit(ev.RunDone(run_id=self.run_id, ok=ok, failed=dict(self.failed),
                             unreachable=dict(self.unreachable),
                             elapsed=round(time.monotonic() - self._started, 3), message=message))
        return Outcome(self.run_id, ok, message, dict(self.failed), dict(self.unreachable))

    def announce(self, text: str) -> None:
        self.emit(ev.Announced(text=self.mask(str(text))))

    # -- node sets -----------------------------------------------------------------------------
    async def resolve(self, name: str, selection: dict, when_empty: str | None = None,
                      ping: bool = False, at_least: int | None = None, lock: bool = True) -> list:
        """Hosts matching ``selection`` (classes facts identities agents compound limit),
        locked for this run unless ``lock`` is false (hosts several runs may share)."""
        found = self.discover(selection)
        if asyncio.iscoroutine(found):
            found = await found
        hosts = list(found)
        self.emit(ev.Discovered(nodes=name, hosts=[host.name for host in hosts]))
        if not hosts:
            raise EmptyNodeSet(when_empty or f"node set {name!r}: no host matched")
        if at_least is not None and len(hosts) < at_least:
            raise EmptyNodeSet(when_empty or
                               f"node set {name!r}: found {len(hosts)} host(s), need at least {at_least}")
        if lock and self.lock is not None:
            try:
                self.lock([host.name for host in hosts])
            except OrchError as error:
                raise RunRefused(error.message) from None
        if ping:
            await self.call(f"nodes.{name}.ping", hosts, "rpcutil", "ping", {}, skip_done=False)
        return hosts

    # -- calls ---------------------------------------------------------------------------------
    async def call(
        self,
        step_id: str,
        hosts: list,
        module: str,
        action: str,
        args: dict,
        *,
        batch_size: int = 0,
        batch_sleep: float = 0,
        tries: int = 1,
        try_sleep: float = 10,
        timeout: float | None = None,
        verbose: bool = False,
        summarize: bool = False,
        fail_ok: bool = False,
        max_fail: int | str = 0,
        condition: Callable[[str, dict, dict], bool] | None = None,
        condition_text: str = "",
        skip_done: bool = True,
        where: Where | None = None,
    ) -> dict:
        """Call ``module.action`` on ``hosts``; raise StepFailure when the step fails.

        Returns the registered view: ``{"ok": [...], "failed": [...], "unreachable": [...],
        "skipped": [...], "replies": {host: {"status", "message", "data"}}, "data": {host: data}}``.
        """
        self._options[step_id] = _StepOptions(verbose=verbose, summarize=summarize)
        todo, skipped = [], []
        for host in hosts:
            if skip_done and (step_id, host.name) in self.done:
                skipped.append(host.name)
                self.emit(ev.HostSkipped(step=step_id, host=host.name,
                                         reason=f"succeeded in run {self.resumed_from}"))
            else:
                todo.append(host)
        result: dict = {}
        if todo:
            raw = await self.session.call(
                step_id, todo, module, action, args, batch_size=batch_size,
                batch_sleep=batch_sleep, tries=tries, try_sleep=try_sleep,
                timeout=timeout, summarize=summarize)
            self.last_result = raw
            result = dict(getattr(raw, "results", raw).items())
        view: dict[str, Any] = {"ok": [], "failed": [], "unreachable": [], "skipped": skipped,
                                "replies": {}, "data": {}}
        problems: dict[str, str] = {}
        for name, reply in result.items():
            status = getattr(reply, "status", "UnknownError")
            message = self.mask(getattr(reply, "message", "") or "")
            data = getattr(reply, "data", None) or {}
            view["replies"][name] = {"status": status, "message": message, "data": data}
            view["data"][name] = data
            if status == "OK" and condition is not None and not condition(name, data, view["replies"][name]):
                status, message = "AssertFailed", f"assert {condition_text or 'check'} is false"
            if status == "OK":
                view["ok"].append(name)
            elif status == "Unreachable":
                view["unreachable"].append(name)
                problems[name] = message or "unreachable"
            else:
                view["failed"].append(name)
                problems[name] = f"{status}: {message}" if message else status
        if problems and not fail_ok:
            for name in view["unreachable"]:
                self.unreachable.setdefault(name, f"{module}#{action}: {problems[name]}")
            for name in view["failed"]:
                self.failed.setdefault(name, f"{module}#{action}: {problems[name]}")
            allowed = _allowed_failures(max_fail, len(todo))
            if len(problems) > allowed:
                shown = ", ".join(f"{name} ({reason})" for name, reason in sorted(problems.items())[:5])
                more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
                reason = (f"{module}#{action} failed on {len(problems)} of {len(todo)} host(s)"
                          + (f" (max_fail {max_fail})" if allowed else "") + f": {shown}{more}")
                raise StepFailure(step_id, reason, where)
        return view

    # -- YAML plays ----------------------------------------------------------------------------
    async def run_play(self, play: Play, inputs: dict, masked_inputs: dict, session: Any) -> Outcome:
        """The whole run of a YAML play; never raises for a failed step (the outcome says so)."""
        self.session = session
        self.start(play.name, masked_inputs)
        try:
            ok, message = await self._play_body(play, inputs, prefix="")
        except RunRefused as refused:
            return self.finish(False, refused.message)
        return self.finish(ok, message)

    async def _play_body(self, play: Play, inputs: dict, prefix: str) -> tuple[bool, str]:
        """Steps in order; node sets are all resolved just before the first step that needs
        hosts (so leading banners print first, and nothing changes before every set is known)."""
        context = {**inputs, "inputs": dict(inputs), "user": self.caller, "run_id": self.run_id,
                   "play": play.name, "nodes": {}}
        hosts_by_set: dict[str, list] = {}

        async def resolve_all() -> None:
            """Discover and lock every set first, then ping: nothing is sent while a set
            may still turn out empty or locked by another run."""
            for node_set in play.nodes:
                hosts = await self._resolve_set(node_set, context)
                hosts_by_set[node_set.name] = hosts
                context["nodes"][node_set.name] = [host.name for host in hosts]
            for node_set in play.nodes:
                if node_set.ping:
                    await self.call(f"nodes.{node_set.name}.ping", hosts_by_set[node_set.name],
                                    "rpcutil", "ping", {}, skip_done=False)

        resolved = False
        try:
            for step in play.steps:
                if not resolved and (not isinstance(step, AnnounceStep) or "nodes" in step.text):
                    resolved = True
                    try:
                        await resolve_all()
                    except StepFailure as failure:  # a ping failed: nothing changed yet
                        self.emit(ev.StepFailed(step=failure.step, reason=self.mask(failure.reason)))
                        return False, f"step {failure.step} failed: {failure.reason}"
                await self._step(step, context, hosts_by_set, prefix)
            if not resolved:
                await resolve_all()
        except StepFailure as failure:
            self.emit(ev.StepFailed(step=failure.step, reason=self.mask(failure.reason)))
            if len(hosts_by_set) == len(play.nodes):
                await self._cleanup(play.on_fail, context, hosts_by_set, prefix)
            ran = " (on_fail ran)" if play.on_fail and len(hosts_by_set) == len(play.nodes) else ""
            return False, f"play {play.name!r} stopped: step {failure.step} failed{ran}"
        await self._cleanup(play.on_success, context, hosts_by_set, prefix, stop=True)
        return True, ""

    async def _cleanup(self, steps: tuple, context: dict, hosts_by_set: dict, prefix: str,
                       stop: bool = False) -> None:
        """on_fail runs every step even if one fails; on_success stops at the first failure.

        Neither is skipped on ``--resume``: they put things back, whatever ran before."""
        self._cleaning += 1
        try:
            for step in steps:
                try:
                    await self._step(step, context, hosts_by_set, prefix)
                except StepFailure as failure:
                    self.emit(ev.StepFailed(step=failure.step, reason=self.mask(failure.reason)))
                    if stop:
                        self.failed.setdefault("(play)", failure.reason)
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
        return await self.resolve(node_set.name, selection, when_empty, False, at_least,
                                  node_set.lock)

    async def _steps(self, steps: tuple, context: dict, hosts_by_set: dict, prefix: str) -> None:
        for step in steps:
            await self._step(step, context, hosts_by_set, prefix)

    async def _step(self, step: Any, context: dict, hosts_by_set: dict, prefix: str) -> None:
        step_id = prefix + step.id
        try:
            if isinstance(step, AnnounceStep):
                self.announce(str(template.render(step.text, context, step.where)))
            elif isinstance(step, AssertStep):
                if not template.evaluate(step.that, context, step.where):
                    text = template.render(step.message, context, step.where) if step.message else ""
                    raise StepFailure(step_id, str(text) or f"assertion {step.that!r} is false",
                                      step.where)
            elif isinstance(step, CallStep):
                await self._call_step(step, step_id, context, hosts_by_set)
            elif isinstance(step, RollingStep):
                await self._rolling(step, step_id, context, hosts_by_set)
            elif isinstance(step, PlayStep):
                inputs = template.render(step.inputs, context, step.where)
                values = resolve_inputs(step.play.inputs, inputs, None, step.play.file, flag="inputs")
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

    async def _call_step(self, step: CallStep, step_id: str, context: dict, hosts_by_set: dict) -> None:
        hosts = hosts_by_set[step.nodes]
        args = template.render(step.args, context, step.where)
        condition = None
        if step.condition:
            def condition(host: str, data: dict, reply: dict) -> bool:
                scope = {**context, **data, "data": data, "host": host, "status": reply["status"],
                         "message": reply["message"]}
                return bool(template.evaluate(step.condition, scope, step.where))
        max_fail = step.max_fail
        if template.is_template(max_fail):
            max_fail = template.render(max_fail, context, step.where)
        view = await self.call(
            step_id, hosts, step.module, step.action, args,
            batch_size=_number(step.batch_size, context, step.where, integer=True),
            batch_sleep=_number(step.batch_sleep, context, step.where),
            tries=_number(step.tries, context, step.where, integer=True),
            try_sleep=_number(step.try_sleep, context, step.where),
            timeout=None if step.timeout is None else _number(step.timeout, context, step.where),
            verbose=step.verbose, summarize=step.summarize, fail_ok=step.fail_ok,
            max_fail=max_fail, condition=condition, condition_text=step.condition or "",
            skip_done=not step.rerun_on_resume and not self._cleaning,
            where=step.where)
        if step.register:
            context[step.register] = view

    async def _rolling(self, step: RollingStep, step_id: str, context: dict, hosts_by_set: dict) -> None:
        hosts = hosts_by_set[step.nodes]
        size = _number(step.batch_size, context, step.where, integer=True)
        pause = _number(step.batch_sleep, context, step.where)
        batches = [hosts[i:i + size] for i in range(0, len(hosts), size)]
        for index, batch in enumerate(batches, 1):
            names = [host.name for host in batch]
            self.emit(ev.BatchStarted(step=step_id, index=index, count=len(batches), hosts=names))
            scope = {**context, "batch": names, "batch_index": index}
            scope["nodes"] = {**context["nodes"], "batch": names}
            sets = {**hosts_by_set, "batch": batch}
            await self._steps(step.steps, scope, sets, f"{step_id}.batch[{index}].")
            for key, value in scope.items():
                if key not in ("batch", "batch_index", "nodes"):
                    context[key] = value
            if pause and index < len(batches):
                await self.sleep(pause)


def _mask_strings(value: Any, mask: Callable[[str], str]) -> Any:
    """``value`` with every string inside it passed through ``mask`` (secrets in reply data)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: _mask_strings(item, mask) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_strings(item, mask) for item in value]
    return value


def _allowed_failures(max_fail: Any, total: int) -> int:
    if isinstance(max_fail, str) and max_fail.strip().endswith("%"):
        return math.floor(float(max_fail.strip()[:-1]) * total / 100)
    try:
        return int(max_fail or 0)
    except (TypeError, ValueError):
        raise InputError(f"max_fail: expected a count or N%, got {max_fail!r}") from None


def _number(value: Any, context: dict, where: Where, integer: bool = False) -> Any:
    if template.is_template(value):
        value = template.render(value, context, where)
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise InputError(f"expected {kind}, got {value!r}", where) from None
    if number < 0:
        raise InputError(f"must not be negative, got {number}", where)
    return number
