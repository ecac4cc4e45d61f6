"""Calling module actions on hosts: in parallel, in batches, with retries, as events.

An ``RpcSession`` lives for one run: it holds the run's SSH connections and each host's remote
runtime, so every step of a play reuses them. ``call`` returns a ``StepResult`` and tells the
sink what happened on the way (StepStarted, BatchStarted, HostStarted, HostReplied or
HostUnreachable, StepDone, Summarized). It never prints and never decides what a failure means
for a play: the play engine does.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from orch.errors import InputError, RequestTimeout, TransportError, Unreachable, Where
from orch.output import events as ev
from orch.rpc.become import Become, BecomeFailed, needs_tty, new_prompt
from orch.rpc.options import DEFAULT_OPTIONS, CallOptions
from orch.rpc.result import OK, SKIPPED, UNREACHABLE, HostResult, StepResult
from orch.rpc.summary import summaries
from orch.runtime import core
from orch.transport import Pool, Target, TransportOptions


def target_of(host, config) -> Target:
    """The transport's view of an inventory host, resolved as OpenSSH would (inventory
    ``ansible_*`` > ~/.ssh/config > orch.cfg > OpenSSH defaults; ``orch.transport.sshconfig``).

    :raises InputError: an ``ansible_ssh_*_args`` option orch does not honour, or a bad value.
    """
    from orch.transport import sshconfig

    return sshconfig.resolver(config).target(host)


class RpcSession:
    """One run's connections and remote runtimes; ``call`` runs one step."""

    def __init__(self, config, registry, sink: ev.Sink, run_id: str, caller: str | None = None,
                 host_key_policy: str | None = None, become_password: str | None = None):
        from orch.runtime import bootstrap

        self.config = config
        self.registry = registry
        self.sink = sink
        self.run_id = run_id
        self.caller = caller or getpass.getuser()
        self.pool = Pool(TransportOptions(
            connect_timeout=config.connect_timeout,
            known_hosts=config.known_hosts,
            host_key_policy=host_key_policy or config.host_key_policy,
            concurrency=config.concurrency,
        ))
        self._payload = bootstrap.payload()
        self._commands: dict = {}
        self._targets: dict[str, Target] = {}
        self._become_password = become_password
        self._prompt = new_prompt()
        self._channels: dict = {}
        self._semaphore = asyncio.Semaphore(config.concurrency)

    stop_requested = staticmethod(lambda: False)  # the run sets it: stop starting batches

    async def __aenter__(self) -> RpcSession:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        await self.pool.close()

    def prepare(self, module: str, action: str, args: dict) -> tuple[object, dict]:
        """Find the module and check the arguments before anything is sent (InputError if bad)."""
        spec = self.registry.get(module)
        return spec, spec.prepare_args(action, args)  # typed values from a play pass unchanged

    async def call(
        self,
        step_id: str,
        hosts: Sequence,
        module: str,
        action: str,
        args: dict,
        options: CallOptions = DEFAULT_OPTIONS,
        *,
        hang_up: bool = False,
    ) -> StepResult:
        """Call ``module.action`` on every host; every host's outcome is in the result.

        ``hang_up``: nothing more will be asked of these hosts in this run (``orch call``), so
        each host's runtime and connection close as soon as its last attempt is over, instead
        of idling (and exchanging keepalives) until the slowest host answers. In check mode an
        action that does not declare ``check_mode`` is not sent: every host is Skipped.
        """
        spec, checked = self.prepare(module, action, args)
        if spec.flag(action, "needs_root") and not options.check:
            check_root(hosts, module, action, options, self.config)
        for host in hosts:  # a refused ansible_ssh_*_args option stops the run before sending
            if host.name not in self._targets:
                self._targets[host.name] = target_of(host, self.config)
        declared = spec.declaration.get("timeout")
        timeout = float(options.timeout or declared or self.config.request_timeout)
        modules = spec.bundle()  # helpers (module_utils) first, then the module
        names = [host.name for host in hosts]
        batch_size = options.batch_size
        self.sink(ev.StepStarted(step_id, module, action, names, batch_size,
                                 verbose=options.verbose, display=spec.outputs_display(action),
                                 check=options.check))
        result = StepResult(module, action)
        started = time.monotonic()
        if options.check and not spec.flag(action, "check_mode"):
            for name in names:
                self.sink(ev.HostSkipped(step_id, name, "no check mode", status="NotRun"))
                result.results[name] = HostResult(name, SKIPPED, "no check mode", {}, 0.0, 0)
        else:
            limit = (asyncio.Semaphore(options.concurrency) if options.concurrency
                     else self._semaphore)
            batches = _batches(list(hosts), batch_size)
            for index, batch in enumerate(batches, 1):
                if index > 1 and self.stop_requested():
                    break  # an interrupt: the engine records the hosts not started
                if batch_size:
                    self.sink(ev.BatchStarted(step_id, index, len(batches),
                                              [h.name for h in batch]))
                outcomes = await asyncio.gather(*(
                    self._host(step_id, host, module, action, checked, modules, timeout, options,
                               limit, hang_up) for host in batch))
                for outcome in outcomes:
                    result.results[outcome.host] = outcome
                if options.batch_sleep and index < len(batches):
                    await asyncio.sleep(options.batch_sleep)
        result.totaltime = time.monotonic() - started
        self.sink(ev.StepDone(
            step_id, module, action,
            discovered=len(names),
            responses=len(result.results) - len(result.unreachable) - len(result.skipped),
            okcount=len(result.ok),
            failcount=len(result.failed),
            unreachable=len(result.unreachable),
            totaltime=round(result.totaltime, 3),
            batch=batch_size,
            changed=len(result.changed),
            skipped=len(result.skipped),
        ))
        if options.summarize:
            for title, lines in summaries(spec.declaration, action, result):
                self.sink(ev.Summarized(step_id, title, lines))
        return result

    async def _host(self, step_id, host, module, action, args, modules, timeout,
                    options: CallOptions, limit: asyncio.Semaphore, hang_up=False) -> HostResult:
        outcome: HostResult | None = None
        tries = options.tries
        spec = self.registry.get(module)
        if spec.resolves_per_host(action):  # local files, templates rendered for this host
            try:
                args = spec.host_args(action, args, host)
            except InputError as error:
                outcome = HostResult(host.name, core.INVALID_DATA, str(error), {}, 0.0, 1)
                self.sink(ev.HostReplied(step_id, host.name, outcome.status, outcome.message,
                                         {}, 0.0, 1, True))
                return outcome
        for attempt in range(1, tries + 1):
            async with limit:
                self.sink(ev.HostStarted(step_id, host.name, attempt))
                outcome = await self._attempt(host, module, action, args, modules, timeout,
                                              attempt, options)
            final = outcome.ok or attempt == tries
            if outcome.unreachable:
                self.sink(ev.HostUnreachable(step_id, host.name, outcome.message,
                                             round(outcome.elapsed, 3), attempt, final))
            else:
                self.sink(ev.HostReplied(step_id, host.name, outcome.status, outcome.message,
                                         outcome.data, round(outcome.elapsed, 3), attempt, final,
                                         changed=outcome.changed, caller=outcome.caller,
                                         mode=outcome.mode))
            if final:
                break
            await asyncio.sleep(options.try_sleep)
        assert outcome is not None
        if hang_up:
            self._drop(host.name)
        return outcome

    def runtime_of(self, host, options: CallOptions) -> Runtime:
        """How ``host``'s runtime starts for this call: interpreter, escalation, password."""
        python, become, password = runtime_settings(host, options, self.config,
                                                    self._become_password)
        tty = needs_tty(become, password)
        key = (python, become, tty)
        command = self._commands.get(key)
        if command is None:
            from orch.runtime import bootstrap

            command = self._commands[key] = bootstrap.command(python, become, self._prompt, tty)
        return Runtime(command, become, password, become.user if become else "")

    def _drop(self, name: str) -> None:
        """Forget ``name``'s runtime and close its connection: it died, or the run is done
        with it. Closing the connection is enough: sshd ends the session and the runtime exits
        at the end of its input, as after an exit frame, without the channel's own exit, EOF
        and close packets each way. The next request to the host starts afresh."""
        for key in [key for key in self._channels if key[0] == name]:
            self._channels.pop(key, None)
        self.pool.forget(name)

    async def _attempt(self, host, module, action, args, modules, timeout, attempt,
                       options: CallOptions) -> HostResult:
        from orch.rpc.channel import HostChannel

        started = time.monotonic()
        message = core.request_frame(os.urandom(16).hex(), self.caller, module, action, args,
                                     timeout, options.check)
        try:
            runtime = self.runtime_of(host, options)
            key = (host.name, runtime.as_user)
            channel = self._channels.get(key)
            if channel is None:
                target = self._targets.get(host.name) or target_of(host, self.config)
                connection = await self.pool.connect(target)
                channel = HostChannel(connection, runtime.command, self._payload,
                                      become=runtime.become, prompt=self._prompt,
                                      password=runtime.password)
                self._channels[key] = channel
            reply = await channel.request(message, modules, timeout)
        except RequestTimeout as error:
            return HostResult(host.name, core.UNKNOWN_ERROR, f"request timed out: {error}", {},
                              time.monotonic() - started, attempt)
        except BecomeFailed as error:
            return HostResult(host.name, core.ABORTED, str(error), {},
                              time.monotonic() - started, attempt)
        except Unreachable as error:
            self._drop(host.name)
            return HostResult(host.name, UNREACHABLE, str(error), {},
                              time.monotonic() - started, attempt)
        except TransportError as error:
            return HostResult(host.name, core.UNKNOWN_ERROR, str(error), {},
                              time.monotonic() - started, attempt)
        except Exception as error:  # one host's surprise must not sink the others
            self._drop(host.name)
            return HostResult(host.name, core.UNKNOWN_ERROR,
                              f"internal error: {type(error).__name__}: {error}", {},
                              time.monotonic() - started, attempt)
        status = str(reply.get("status", core.UNKNOWN_ERROR))
        data = reply.get("data") or {}
        changed = reply.get("changed")
        return HostResult(host.name, status, str(reply.get("message", "")),
                          data if isinstance(data, dict) else {"value": data},
                          time.monotonic() - started, attempt,
                          changed if isinstance(changed, bool) else None,
                          str(channel.hello.get("caller") or ""), str(channel.hello.get("mode") or ""))


def runtime_settings(host, options: CallOptions, config, password: str | None = None):
    """``(python, Become or None, password)`` for one host: its ``ansible_python_interpreter``
    over orch.cfg's ``remote_python``; escalation from the call's options (a play's ``become:``,
    ``-b``) over the host's ``ansible_become*`` variables, as Ansible's keywords override."""
    host_vars = getattr(host, "vars", None) or {}
    python = str(host_vars.get("ansible_python_interpreter") or config.remote_python)
    if python.startswith("auto"):  # Ansible's auto, auto_silent, auto_legacy
        python = "auto"
    becoming = options.become
    if becoming is None:
        becoming = _truthy(host_vars.get("ansible_become", False))
    if not becoming:
        return python, None, None
    become = Become(
        method=str(host_vars.get("ansible_become_method") or options.become_method or "sudo"),
        user=str(host_vars.get("ansible_become_user") or options.become_user or "root"),
        exe=str(host_vars.get("ansible_become_exe") or ""),
        flags=str(host_vars.get("ansible_become_flags") or ""))
    secret = host_vars.get("ansible_become_password") or password
    return python, become, None if secret is None else str(secret)


def check_root(hosts, module: str, action: str, options: CallOptions, config) -> None:
    """An action that needs root, on hosts where it would not run as root: InputError naming
    them, before anything is sent."""
    login = getpass.getuser()
    short = []
    for host in hosts:
        _, become, _ = runtime_settings(host, options, config)
        user = (become.user if become else None) or getattr(host, "user", None) \
            or config.ssh_user or login
        if user != "root":
            short.append(f"{host.name} ({user})")
    if short:
        shown = ", ".join(short[:5]) + (f" and {len(short) - 5} more" if len(short) > 5 else "")
        raise InputError(f"{module}.{action} needs root; it would run as another user on "
                         f"{shown}: use -b/--become (or ansible_become)",
                         Where(path=f"{module}.{action}"))


@dataclass(frozen=True)
class Runtime:
    """How one host's runtime starts: the command, its escalation and the password for it."""

    command: str
    become: Become | None
    password: str | None = field(default=None, repr=False)
    as_user: str = ""  # the user it runs as under escalation ("" : the login user)


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "yes", "1", "on", "y")


def _batches(hosts: list, size: int) -> list[list]:
    if not size or size >= len(hosts):
        return [hosts] if hosts else []
    return [hosts[i:i + size] for i in range(0, len(hosts), size)]


__all__ = ["OK", "RpcSession", "StepResult", "HostResult", "target_of"]
