"""Python plays: ``plays/*.py`` with ``run(orch)``, for what YAML cannot say.

The play is ordinary blocking Python, read like MCollective's Ruby orchestration script::

    REQUIRES = ["rpcutil", "haproxy", "appmgr"]

    def run(orch):
        cluster = orch.ask("Cluster Name", "cluster", validation=r"^[a-z]+$")
        servers = orch.discover(agent="appmgr", fact=f"cluster={cluster}",
                                when_empty="No web servers found")
        servers.ping()
        orch.call("appmgr.upgrade", servers, args={"revision": 20}, batch_size=2, tries=2,
                  verbose=True)

It runs in a worker thread; each ``orch.*`` call hands a coroutine to the event loop that owns
the SSH session and waits for it, so every event still leaves from the loop's thread. Step ids
are ``<file>:<line>`` of the call, so ``--resume`` finds the same steps again. Errors name the
play file's line: the first frame of the traceback inside the play file.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from orch.errors import InputError, OrchError, Where
from orch.output import events as ev
from orch.play.engine import Engine, RunRefused, StepFailure
from orch.play.inputs import MASK, Ask, convert
from orch.play.model import INPUT_TYPES, InputSpec
from orch.rpc.options import CallOptions
from orch.schema import check_validation, validation_problem


class PythonPlay:
    """A loaded ``plays/*.py``: its ``run`` function, ``REQUIRES`` and name."""

    def __init__(self, path: str | Path, display: str | None = None):
        self.path = Path(path).resolve()
        self.file = display or str(path)
        try:
            source = self.path.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(f"cannot read play: {error.strerror}", Where(self.file)) from None
        try:
            code = compile(source, str(self.path), "exec")
        except SyntaxError as error:
            raise InputError(f"syntax error: {error.msg}", Where(self.file, error.lineno)) from None
        namespace: dict[str, Any] = {"__name__": f"orch_play_{self.path.stem}",
                                     "__file__": str(self.path)}
        try:
            exec(code, namespace)
        except Exception as error:  # a play that fails at import is a bad play file
            raise InputError(_describe(error), Where(self.file, self.line_of(error))) from None
        self.run = namespace.get("run")
        if not callable(self.run):
            raise InputError("a Python play defines run(orch)", Where(self.file))
        requires = namespace.get("REQUIRES", ())
        if isinstance(requires, str) or not all(isinstance(name, str) for name in requires):
            raise InputError("REQUIRES must be a list of module names", Where(self.file))
        self.requires = tuple(requires)
        doc = (namespace.get("__doc__") or "").strip().splitlines()
        self.name = namespace.get("NAME") or (doc[0] if doc else self.path.stem)

    def line_of(self, error: BaseException) -> int | None:
        """The line of the last traceback frame inside the play file."""
        line = None
        for frame in traceback.extract_tb(error.__traceback__):
            if Path(frame.filename).resolve() == self.path:
                line = frame.lineno
        if line is None and isinstance(error, SyntaxError):
            line = error.lineno
        return line

    def caller_line(self) -> int | None:
        """The line in the play file that called into the API right now."""
        frame = sys._getframe(1)
        while frame is not None:
            if Path(frame.f_code.co_filename).resolve() == self.path:
                return frame.f_lineno
            frame = frame.f_back
        return None

    def check_requires(self, registry: Any) -> None:
        if registry is None:
            return
        names = set(registry.names())
        for name in self.requires:
            if name not in names:
                raise InputError(f"REQUIRES: module {name!r} is not installed", Where(self.file))


class Nodes:
    """A discovered host set: iterates host names, ``ping()`` checks every host answers."""

    def __init__(self, api: PlayApi, name: str, hosts: list):
        self._api, self.name, self.hosts = api, name, hosts

    @property
    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.hosts)

    def __repr__(self) -> str:
        return f"Nodes({self.name!r}, {self.names})"

    def ping(self) -> Result:
        """``rpcutil.ping`` every host; raises StepFailed if one does not answer."""
        return self._api._call("rpcutil.ping", self, {}, CallOptions(try_sleep=0),
                               {"skip_done": False})


class Result:
    """A call's replies: ``ok``/``failed``/``unreachable`` host lists, ``data[host]``."""

    def __init__(self, view: dict, raw: Any, module: str, action: str):
        self.ok = view["ok"]
        self.failed = view["failed"]
        self.unreachable = view["unreachable"]
        self.skipped = view["skipped"]
        self.replies = view["replies"]
        self.data = view["data"]
        self.raw, self.module, self.action = raw, module, action

    def __repr__(self) -> str:
        return f"Result({self.module}#{self.action} ok={self.ok} failed={self.failed})"


class PlayApi:
    """The object a Python play's ``run(orch)`` receives (MCollective's orchestration API)."""

    StepFailed = StepFailure

    def __init__(self, play: PythonPlay, engine: Engine, loop: asyncio.AbstractEventLoop,
                 given: dict, ask: Ask | None, registry: Any):
        self._play, self._engine, self._loop = play, engine, loop
        self._given, self._ask, self._registry = dict(given), ask, registry
        self._inputs: dict[str, Any] = {}
        self._secrets: list[Any] = []
        self._lines: dict[int | None, int] = {}
        self.user = engine.caller
        self.run_id = engine.run_id

    # -- helpers -------------------------------------------------------------------------------
    def _where(self) -> Where:
        return Where(self._play.file, self._play.caller_line())

    def _step_id(self) -> str:
        line = self._play.caller_line()
        self._lines[line] = self._lines.get(line, 0) + 1
        count = self._lines[line]
        return f"{self._play.path.name}:{line}" + (f"#{count}" if count > 1 else "")

    def _run(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def _started(self) -> bool:
        return self._engine.started

    def _start(self) -> None:
        """The run starts (RunStarted, with the inputs asked so far) at the first step."""
        if not self._engine.started:
            inputs = {name: (MASK if value in self._secrets else value)
                      for name, value in self._inputs.items()}
            self._run(_later(self._engine.begin, inputs))

    # -- the API -------------------------------------------------------------------------------
    def ask(self, prompt: str, name: str, *, default: Any = None, validation: str | None = None,
            type: str = "string", sensitive: bool = False) -> Any:
        """The input ``name``: from ``name=value`` on the command line, else a prompt, else default."""
        where = self._where()
        if type not in INPUT_TYPES:
            raise InputError(f"unknown input type {type!r}", where)
        spec = InputSpec(name=name, where=where, prompt=prompt, type=type, validation=validation,
                         default=default, sensitive=sensitive, has_default=default is not None)
        if name in self._given:
            value = convert(spec, self._given[name], Where(path=f"-e {name}"))
        else:
            answer = self._ask(spec) if self._ask is not None and default is None else None
            if answer is not None:
                value = convert(spec, answer, Where(path=f"input {name}"))
            elif default is not None:
                value = convert(spec, default, where)
            else:
                raise InputError(f"input {name!r} is required: give {name}=VALUE", where)
        self._inputs[name] = value
        if sensitive:
            self._secrets.append(value)
            self._engine.masker.add(value)
        return value

    def validate(self, value: Any, check: str | type, name: str | None = None) -> Any:
        """Refuse ``value`` unless it passes ``check``: a validator name (``shellsafe``,
        ``ipv4address``, ``ipv6address``), a regex over the whole value, or a type."""
        where = self._where()
        label = f"{name!r} " if name else ""
        shown = MASK if value in self._secrets else repr(value)
        if isinstance(check, type):
            if not isinstance(value, check):
                raise InputError(f"{label}{shown} is not a {check.__name__}", where)
            return value
        problem = check_validation(check)
        if problem:
            raise InputError(f"validate: {problem}", where)
        problem = validation_problem(check, value if isinstance(value, str) else str(value))
        if problem:
            raise InputError(f"{label}{shown} {problem}", where)
        return value

    def announce(self, text: str) -> None:
        """A banner on the console."""
        self._start()
        self._run(_later(self._engine.announce, str(text)))

    def discover(self, *, classes: str | Iterable[str] = (), fact: str | Iterable[str] = (),
                 identity: str | Iterable[str] = (), agent: str | Iterable[str] = (),
                 select: str | Iterable[str] = (), limit: str | int | None = None,
                 when_empty: str | None = None, at_least: int | None = None,
                 name: str | None = None, lock: bool = True) -> Nodes:
        """Hosts matching the filters (as ``-C -F -I -A -S --limit``); ``when_empty`` stops the
        play; ``lock=False`` for hosts other runs may use at the same time (a load balancer)."""
        self._start()
        label = name or f"line {self._play.caller_line()}"
        selection = {"classes": _strings(classes), "facts": _strings(fact),
                     "identities": _strings(identity), "agents": _strings(agent),
                     "compound": _strings(select), "limit": None if limit is None else str(limit)}
        hosts = self._run(self._engine.resolve(label, selection, when_empty, at_least, lock))
        return Nodes(self, label, hosts)

    def call(self, target: str, nodes: Nodes, args: dict | None = None, *,
             batch_size: int | None = None, batch_sleep: float | None = None,
             tries: int | None = None, try_sleep: float | None = None,
             timeout: float | None = None, verbose: bool | None = None,
             summarize: bool | None = None, fail_ok: bool | None = None,
             max_fail: int | str | None = None, check: Callable[[dict], bool] | None = None,
             resume: str = "skip") -> Result:
        """Call ``module.action`` on ``nodes``; raises ``orch.StepFailed`` when the step fails.

        The keywords are the call options of a YAML step, with the same defaults (None: orch's
        default, ``orch.rpc.options``). ``check(data)`` is the Python form of a YAML step's
        ``assert``; ``resume="rerun"`` runs the call again on ``--resume`` even on hosts where
        it succeeded.
        """
        given = dict(batch_size=batch_size, batch_sleep=batch_sleep, tries=tries,
                     try_sleep=try_sleep, timeout=timeout, verbose=verbose, summarize=summarize,
                     fail_ok=fail_ok, max_fail=max_fail)
        where = self._where()
        options = CallOptions.build(given, lambda name: where)
        extra: dict[str, Any] = {"skip_done": resume != "rerun"}
        if check is not None:
            extra["condition"] = lambda host, data, reply: bool(check(data))
        return self._call(target, nodes, args or {}, options, extra)

    def _call(self, target: str, nodes: Nodes, args: dict, options: CallOptions,
              extra: dict) -> Result:
        where = self._where()
        module, dot, action = str(target).partition(".")
        if not dot:
            raise InputError(f"expected module.action, got {target!r}", where)
        if not isinstance(nodes, Nodes):
            raise InputError("call needs the Nodes that discover() returned", where)
        self._start()
        step_id = self._step_id()
        view = self._run(self._engine.call(step_id, nodes.hosts, module, action, dict(args),
                                           options, where=where, **extra))
        return Result(view, self._engine.last_result, module, action)

    def summarize(self, result: Result) -> None:
        """Show the aggregate summaries (``Summary of Revision:``) of an earlier call."""
        from orch.rpc.summary import summaries

        spec = self._registry.get(result.module)
        step = f"{self._play.path.name}:{self._play.caller_line()}"
        for title, lines in summaries(spec.declaration, result.action, result.raw):
            self._run(_later(self._engine.emit, ev.Summarized(step, title, lines)))


async def _later(function: Callable, *args) -> Any:
    return function(*args)


def _strings(value: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(item) for item in value)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def python_body(play: PythonPlay, given: dict, ask: Ask | None, registry: Any):
    """The run body of a Python play: ``play.run(orch)`` in a worker thread.

    Bad input found before the run started (a failed ``validate``, a missing input) raises
    InputError naming the play's line; once started, any failure ends the run as failed.
    Run it with ``engine.run(..., lazy=True)``.
    """

    async def body(engine: Engine) -> tuple[bool, str]:
        api = PlayApi(play, engine, asyncio.get_running_loop(), given, ask, registry)
        try:
            await asyncio.to_thread(play.run, api)
        except RunRefused:
            raise
        except StepFailure as failure:
            where = Where(play.file, play.line_of(failure))
            engine.emit(ev.StepFailed(step=failure.step, reason=failure.reason))
            return False, f"{where}: step failed: {failure.reason}"
        except Exception as error:
            line = play.line_of(error)
            if isinstance(error, OrchError):
                where = error.where if error.where and error.where.file else Where(play.file, line)
                message = error.message
            else:
                where, message = Where(play.file, line), _describe(error)
            if not engine.started:
                raise InputError(message, where) from None
            return False, f"{where}: {message}"
        api._start()
        return True, ""

    return body
